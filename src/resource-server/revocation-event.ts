import type { AuthInfo } from './auth-info.js';

/** The body Latch publishes on `latch:events` (docs/events.md, v1). */
export interface RevocationEvent {
  v: number;
  type: 'revocation';
  scope: string;
  sub?: string;
  client_id?: string;
  session_id?: string;
  token_sha256?: string;
  reason?: string;
  actor?: string;
  at?: number;
}

/** Parses one pub/sub message: a revocation event, `'ignore'` for other types, `'unknown'` if unreadable. */
export function parseEvent(message: string): RevocationEvent | 'ignore' | 'unknown' {
  let body: unknown;
  try {
    body = JSON.parse(message);
  } catch {
    return 'unknown';
  }
  if (typeof body !== 'object' || body === null) return 'unknown';
  const event = body as Partial<RevocationEvent> & { type?: unknown };
  // Other types (issue 4's `security` events) share the channel and revoke nothing.
  if (typeof event.type === 'string' && event.type !== 'revocation') return 'ignore';
  if (event.type !== 'revocation' || typeof event.scope !== 'string') return 'unknown';
  return event as RevocationEvent;
}

/**
 * A delegated token (RFC 8693 `act`: exchanged at Latch) is held by the exchanging client but lives
 * in the grant of the user's sign-in at another client, which events of that grant name instead.
 */
function delegated(auth: AuthInfo): boolean {
  return typeof auth.claims.act === 'object' && auth.claims.act !== null;
}

/**
 * Whether a cached answer must go (docs/events.md "How a cache applies an event"), erring on the
 * side of dropping too much. `'unknown'` (an unreadable body) drops everything too. A delegated
 * token goes with any grant, session or account-client event of its user and any client event,
 * whichever client they name.
 */
export function revokes(event: RevocationEvent | 'unknown', tokenHash: string, auth: AuthInfo): boolean {
  if (event === 'unknown') return true;
  switch (event.scope) {
    case 'token':
      return event.token_sha256 === undefined || event.token_sha256 === tokenHash;
    case 'grant':
    case 'session':
    case 'account-client':
      return (event.sub === undefined || auth.sub === event.sub) && (event.client_id === undefined || auth.clientId === event.client_id || delegated(auth));
    case 'account':
    case 'account-disabled':
      return event.sub === undefined || auth.sub === event.sub;
    case 'client':
      return event.client_id === undefined || auth.clientId === event.client_id || delegated(auth);
    default:
      return true; // a scope from a newer Latch: forward compatibility
  }
}
