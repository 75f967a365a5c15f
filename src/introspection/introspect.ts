import type { RedisStore } from '../../adapters/redis/redis-store.js';
import { decodeFetch, isRevoked, type FetchedRecord } from '../../adapters/redis/record-state.js';
import { unpackTokenPayload } from '../../adapters/redis/token-payload.js';
import type { RolePolicy } from '../accounts/role-policy.js';
import { TOKEN_EXCHANGE_GRANT } from '../config/schema.js';
import type { ResourceServers } from '../provider/resource-servers.js';
import { introspectionAccess } from '../provider/token-policies.js';

/** The stored payload fields introspection reads (oidc-provider's token payload). */
interface TokenPayload {
  kind: 'AccessToken' | 'ClientCredentials' | 'RefreshToken';
  iat?: number;
  exp?: number;
  accountId?: string;
  clientId: string;
  grantId?: string;
  aud?: string | string[];
  scope?: string;
  sid?: string;
  jkt?: string;
  'x5t#S256'?: string;
  expiresWithSession?: boolean;
  sessionUid?: string;
  /** The grant type that issued it (oidc-provider's `gty`). */
  gty?: string;
  extra?: Record<string, unknown>;
}

interface GrantPayload {
  exp?: number;
  clientId?: string;
  accountId?: string;
}

interface SessionPayload {
  accountId?: string;
  authorizations?: Record<string, { grantId?: string }>;
}

export type IntrospectionResponse = { active: false } | ({ active: true } & Record<string, unknown>);
type ActiveResponse = { active: true } & Record<string, unknown>;

const INACTIVE: IntrospectionResponse = Object.freeze({ active: false }) as IntrospectionResponse;

/**
 * How far an instance's clock (a token's `iat`) may lag Redis's (an API's creation time) before a
 * token issued just after an API was registered reads as one of an earlier API of that audience.
 * A removed API registered again within this many seconds still finds its earlier tokens alive.
 */
const API_CLOCK_SKEW_SECONDS = 5;

const MODELS = ['AccessToken', 'ClientCredentials', 'RefreshToken'] as const;

/** RFC 7662 §2.1 hint → lookup order (oidc-provider's findToken order; the hint only saves work). */
function candidates(hint: string | null): readonly (typeof MODELS)[number][] {
  switch (hint) {
    case 'access_token':
    case 'urn:ietf:params:oauth:token-type:access_token':
      return ['AccessToken', 'ClientCredentials', 'RefreshToken'];
    case 'refresh_token':
    case 'urn:ietf:params:oauth:token-type:refresh_token':
      return ['RefreshToken', 'AccessToken', 'ClientCredentials'];
    default:
      return MODELS;
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export interface IntrospectorOptions {
  store: RedisStore;
  issuer: string;
  resourceServers: ResourceServers;
  roles: RolePolicy;
  clockToleranceSeconds?: number;
}

type Account = FetchedRecord['account'];

/**
 * A subject or actor token of a token exchange (RFC 8693), as Latch's decision sees it: the answer
 * the presenting client would get from /introspect, and the stored facts the new token inherits.
 */
export interface ExchangeSubject {
  /** The active introspection answer (live scope, roles, the sign-in's auth_time / acr / amr, act). */
  answer: ActiveResponse;
  kind: 'AccessToken' | 'ClientCredentials';
  clientId: string;
  accountId?: string;
  grantId?: string;
  exp?: number;
  /** The token's stored extra claims (sign-in facts, an earlier exchange's `act`). */
  extra: Record<string, unknown>;
  /** The user's live roles ([] for a client's own token). */
  roles: string[];
  /** Live user claims (username, email, name, email_verified) by claim name. */
  claims(names: readonly string[]): Record<string, unknown>;
}

interface Judged {
  body: ActiveResponse;
  token: TokenPayload;
  account: Account;
}

/**
 * An exchanged token (RFC 8693) lives in its subject token's grant, which belongs to another
 * client (the one the user signed in to): the one kind of token whose grant is not its client's.
 */
function exchangedUnderGrant(token: TokenPayload): boolean {
  return token.gty === TOKEN_EXCHANGE_GRANT && typeof token.extra?.act === 'object';
}

/** Who may see a token, and for which of its APIs (token-policies.ts); undefined: nobody. */
type Access = (token: TokenPayload) => { apis: readonly string[] } | undefined;

/** Live user claims an API may be configured to receive (`resourceServers[].claims`). */
const CLAIMS: Record<string, (account: Account) => unknown> = {
  username: (a) => a.username || undefined,
  preferred_username: (a) => a.username || undefined,
  email: (a) => a.email || undefined,
  email_verified: (a) => (a.email ? true : undefined),
  name: (a) => a.name || undefined,
};

/**
 * Latch's one RFC 7662 decision, on the same records the adapter writes, in one Redis round trip:
 * every introspection answer comes from here (oidc-provider's own introspection is disabled).
 * The validity rules are those of oidc-provider's models (`find`/`verify`: expiry with clock
 * tolerance, consumed refresh tokens, session- and grant-bound tokens), plus Latch's: revocation
 * epochs, deleted accounts, live roles (scope = granted ∩ allowed by the roles), and user claims
 * released only to the token's API. test/introspection/conformance.test.ts checks every answer of
 * a corpus against the RFCs and these rules. Never throws for a bad token: an unusable token is
 * simply `{"active":false}`.
 */
export class Introspector {
  readonly #store: RedisStore;
  readonly #issuer: string;
  readonly #resourceServers: ResourceServers;
  readonly #roles: RolePolicy;
  readonly #tolerance: number;

  constructor(options: IntrospectorOptions) {
    this.#store = options.store;
    this.#issuer = options.issuer;
    this.#resourceServers = options.resourceServers;
    this.#roles = options.roles;
    this.#tolerance = options.clockToleranceSeconds ?? 15;
  }

  /** Introspects `token` for the authenticated caller `callerId`. Redis failures propagate (503). */
  introspect(callerId: string, token: string, hint: string | null): Promise<IntrospectionResponse> {
    return this.#lookup(token, hint, (t) => introspectionAccess(this.#resourceServers, callerId, t));
  }

  /**
   * Introspects an access token presented to one of Latch's own APIs (the admin API): active only
   * if its audience is `audience`, exactly as a resource server registered for it would see it.
   */
  introspectForAudience(audience: string, token: string): Promise<IntrospectionResponse> {
    return this.#lookup(token, 'access_token', (t) => ([t.aud ?? []].flat().includes(audience) ? { apis: [audience] } : undefined));
  }

  /**
   * Latch's decision on a token presented for a token exchange (RFC 8693 §2.1) by `callerId`: the
   * same answer /introspect would give that client (its own tokens, or tokens of an API it
   * introspects for), with the facts the new token inherits. Undefined when that answer is
   * inactive, or the token is not an access token (a refresh token is never exchanged).
   */
  async judgeForExchange(callerId: string, token: string): Promise<ExchangeSubject | undefined> {
    const judged = await this.#find(token, 'access_token', (t) => introspectionAccess(this.#resourceServers, callerId, t));
    if (!judged || judged.token.kind === 'RefreshToken') return undefined;
    const { body, token: t, account } = judged;
    return {
      answer: body,
      kind: t.kind as ExchangeSubject['kind'],
      clientId: t.clientId,
      accountId: t.accountId,
      grantId: t.grantId,
      exp: t.exp,
      extra: { ...t.extra },
      roles: t.accountId && account.roles ? account.roles.split(' ') : [],
      claims: (names) => Object.fromEntries(names.flatMap((name) => {
        const value = t.accountId ? CLAIMS[name]?.(account) : undefined;
        return value === undefined ? [] : [[name, value]];
      })),
    };
  }

  async #lookup(token: string, hint: string | null, allowed: Access): Promise<IntrospectionResponse> {
    return (await this.#find(token, hint, allowed))?.body ?? INACTIVE;
  }

  async #find(token: string, hint: string | null, allowed: Access): Promise<Judged | undefined> {
    const order = candidates(hint);
    const { keys } = this.#store;
    const reply = await this.#store.run(() => this.#store.fetch(keys.recordKeys(order, token)));
    const record = decodeFetch(reply);
    if (!record) return undefined;
    return this.#judge(order[record.index]!, record, allowed);
  }

  /** The active answer for a record and the stored token it is about; undefined: `{"active":false}`. */
  #judge(kind: (typeof MODELS)[number], record: FetchedRecord, allowed: Access): Judged | undefined {
    if (isRevoked(record)) return undefined;
    let token: TokenPayload;
    try {
      // The model comes from the key, the client from the record (neither is in the payload).
      token = { ...(unpackTokenPayload(record.payload, record.grantPayload) as unknown as TokenPayload), kind, clientId: record.clientId };
    } catch {
      return undefined;
    }
    const now = nowSeconds();
    // Model verify (clock tolerance) and then isValid (no tolerance, not consumed).
    if (typeof token.exp === 'number' && now - this.#tolerance >= token.exp) return undefined;
    if (typeof token.exp === 'number' && token.exp <= now) return undefined;
    if (kind === 'RefreshToken' && record.consumed) return undefined;

    if (token.expiresWithSession && (kind === 'AccessToken' || kind === 'RefreshToken')) {
      if (!record.sessionPayload) return undefined;
      const session = JSON.parse(record.sessionPayload) as SessionPayload;
      if (session.accountId !== token.accountId) return undefined;
      if (session.authorizations?.[token.clientId]?.grantId !== token.grantId) return undefined;
    }

    if (token.grantId) {
      if (!record.grantPayload) return undefined;
      const grant = { ...(JSON.parse(record.grantPayload) as GrantPayload), clientId: record.grantClientId };
      if (typeof grant.exp === 'number' && grant.exp <= now) return undefined;
      if (grant.accountId !== token.accountId) return undefined;
      if (grant.clientId !== token.clientId && !exchangedUnderGrant(token)) return undefined;
    }

    const access = allowed(token);
    if (!access) return undefined;
    // An API removed at run time takes its tokens with it (an in-memory read of the live table).
    if (!this.#resourceServers.issuedFor(token.aud, token.iat, API_CLOCK_SKEW_SECONDS)) return undefined;
    // A deleted account's tokens die with it (its record is gone: no username).
    if (token.accountId && !record.account.username) return undefined;

    const granted = this.#resourceServers.currentScope(token.aud, token.scope ?? '');
    const constrained = !!(token.jkt || token['x5t#S256']);
    const body: Record<string, unknown> = { active: true };
    if (token.accountId) body.sub = token.accountId;
    const roles = token.accountId && record.account.roles ? record.account.roles.split(' ') : [];
    Object.assign(body, token.extra, {
      active: true,
      client_id: token.clientId,
      exp: token.exp,
      iat: token.iat,
      sid: token.sid,
      iss: this.#issuer,
      aud: token.aud,
      // Live permissions: what was granted, as far as the API still has it and the account's roles allow it right now.
      scope: (token.accountId ? this.#roles.effectiveScope(granted, roles) : granted) || undefined,
      cnf: constrained ? { ...(token['x5t#S256'] ? { 'x5t#S256': token['x5t#S256'] } : {}), ...(token.jkt ? { jkt: token.jkt } : {}) } : undefined,
      token_type: kind !== 'RefreshToken' ? (token.jkt ? 'DPoP' : 'Bearer') : undefined,
    });
    // Live account data for the API, to its introspectors only: a client looking at its own token
    // learns the RFC 7662 fields, never the user claims or roles meant for the API.
    if (token.accountId && access.apis.length > 0) {
      body.roles = roles;
      this.#releaseClaims(body, access.apis, record.account);
    }
    return { body: body as ActiveResponse, token, account: record.account };
  }

  /** The user claims the caller's APIs are configured to receive, read live from the account. */
  #releaseClaims(body: Record<string, unknown>, apis: readonly string[], account: Account): void {
    for (const aud of apis) {
      for (const claim of this.#resourceServers.get(aud)?.claims ?? []) {
        const value = CLAIMS[claim]?.(account);
        if (value !== undefined) body[claim] = value;
      }
    }
  }
}
