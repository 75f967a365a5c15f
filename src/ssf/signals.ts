import type { LatchEvent, RevocationEvent, SecurityEvent } from '../revocation/events.js';
import {
  ACCOUNT_DISABLED,
  ACCOUNT_ENABLED,
  ACCOUNT_PURGED,
  CREDENTIAL_CHANGE,
  RISK_LEVEL_CHANGE,
  SESSION_REVOKED,
  TOKEN_CLAIMS_CHANGE,
} from './event-types.js';
import type { EventSubject } from './subjects.js';

/** One SSF event a Latch event becomes: its type URI and its members (without the subject). */
export interface Signal {
  type: string;
  event: Record<string, unknown>;
}

/** What the transmitter needs of the account to fill an event in (read live, at publish time). */
export interface AccountFacts {
  roles: string[];
}

export interface Signals {
  subject: EventSubject;
  signals: Signal[];
}

/**
 * CAEP §2 `initiating_entity`: the user (devices page, RP-initiated logout, a client revoking its
 * own token for its user, RFC 7009), Latch's policies (reuse detection, impossible travel), or an
 * admin client (the admin API).
 */
function initiatingEntity(actor: string, clientId: string | undefined): 'user' | 'policy' | 'admin' {
  if (actor === 'user' || (clientId !== undefined && actor === clientId)) return 'user';
  if (actor === 'latch') return 'policy';
  return 'admin';
}

const DEFAULT_REASONS: Record<string, string> = {
  token: 'token revoked',
  grant: 'authorization revoked',
  session: 'session ended',
  account: 'every session of the account ended',
  'account-client': "every session of the account at this client ended",
  client: 'every session of the client ended',
  'account-disabled': 'account disabled',
  'account-roles': 'roles changed',
};

/** The members every Latch-made event carries (CAEP §2; the interoperability profile requires `reason_admin`). */
function common(event: LatchEvent, clientId: string | undefined, fallback: string): Record<string, unknown> {
  const reason = typeof event.reason === 'string' && event.reason !== '' ? event.reason : fallback;
  return {
    event_timestamp: Math.floor(event.at / 1000),
    initiating_entity: initiatingEntity(event.actor, clientId),
    reason_admin: { en: reason },
  };
}

function revocationSignals(event: RevocationEvent, account: AccountFacts | undefined): Signals {
  const subject: EventSubject = {
    ...(event.sub !== undefined ? { sub: event.sub } : {}),
    ...(event.client_id !== undefined ? { clientId: event.client_id } : {}),
    ...(event.scope === 'session' && event.session_id !== undefined ? { sessionId: event.session_id } : {}),
  };
  const members = common(event, event.client_id, DEFAULT_REASONS[event.scope] ?? 'revoked');
  if (event.scope === 'account-roles') {
    // CAEP §3.2: the claims that changed, with their new values. Introspection's `roles` is the
    // one claim a role change alters (its effective `scope` follows from it).
    if (!account || event.sub === undefined) return { subject, signals: [] };
    return { subject, signals: [{ type: TOKEN_CLAIMS_CHANGE, event: { ...members, claims: { roles: account.roles } } }] };
  }
  if (event.sub === undefined && event.client_id === undefined) return { subject, signals: [] };
  const signals: Signal[] = [{ type: SESSION_REVOKED, event: members }];
  // Disabling ends every session (the event above) and the account (RISC §2.3).
  if (event.scope === 'account-disabled') signals.push({ type: ACCOUNT_DISABLED, event: members });
  return { subject, signals };
}

const CREDENTIAL_TYPES = new Set(['password', 'pin', 'x509', 'fido2-platform', 'fido2-roaming', 'fido-u2f', 'verifiable-credential', 'phone-voice', 'phone-sms', 'app', 'client_secret']);
const CHANGE_TYPES = new Set(['create', 'revoke', 'update', 'delete']);

function securitySignals(event: SecurityEvent): Signals {
  const sub = typeof event.sub === 'string' ? event.sub : undefined;
  const clientId = typeof event.client_id === 'string' ? event.client_id : undefined;
  switch (event.kind) {
    case 'credential_change': {
      // CAEP §3.3. `client_secret` is Latch's own credential type (the list is open to types both
      // sides agree on): a client's secret changed; the subject is then the client.
      const credential = String(event.credential_type);
      const change = String(event.change_type);
      if (!CREDENTIAL_TYPES.has(credential) || !CHANGE_TYPES.has(change)) return { subject: {}, signals: [] };
      const subject: EventSubject = credential === 'client_secret' ? { clientId } : { sub, ...(clientId ? { clientId } : {}) };
      if (subject.sub === undefined && subject.clientId === undefined) return { subject, signals: [] };
      const members = { ...common(event, clientId, 'credential changed'), credential_type: credential, change_type: change };
      return { subject, signals: [{ type: CREDENTIAL_CHANGE, event: members }] };
    }
    case 'account_enabled':
      return sub === undefined ? { subject: {}, signals: [] } : { subject: { sub }, signals: [{ type: ACCOUNT_ENABLED, event: common(event, undefined, 'account enabled') }] };
    case 'account_purged':
      return sub === undefined ? { subject: {}, signals: [] } : { subject: { sub }, signals: [{ type: ACCOUNT_PURGED, event: common(event, undefined, 'account deleted') }] };
    case 'impossible_travel': {
      // CAEP §3.7: impossible travel is a risk assessment of the user; what Latch did about it
      // (revoke: every session ended) follows as its own session-revoked event.
      if (sub === undefined) return { subject: {}, signals: [] };
      const from = (event.from ?? {}) as { place?: string };
      const to = (event.to ?? {}) as { place?: string };
      const summary = `impossible travel: ${from.place ?? 'unknown'} → ${to.place ?? 'unknown'}, ${String(event.distance_km)} km at ${String(event.speed_kmh)} km/h (${String(event.action)})`;
      const members = {
        ...common({ ...event, reason: summary } as LatchEvent, undefined, summary),
        principal: 'USER',
        current_level: 'HIGH',
        risk_reason: 'IMPOSSIBLE_TRAVEL',
      };
      return { subject: { sub }, signals: [{ type: RISK_LEVEL_CHANGE, event: members }] };
    }
    default:
      return { subject: {}, signals: [] };
  }
}

/**
 * The SSF events one Latch event becomes (docs/shared-signals.md "What is sent"): every
 * revocation ends sessions (CAEP session-revoked), a disable is also RISC account-disabled, a role
 * change is CAEP token-claims-change; security events map to credential-change, account-enabled,
 * account-purged and risk-level-change. Anything else becomes nothing.
 */
export function signalsOf(event: LatchEvent, account?: AccountFacts): Signals {
  return event.type === 'revocation' ? revocationSignals(event, account) : securitySignals(event);
}
