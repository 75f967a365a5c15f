/** An active RFC 7662 introspection response, as Latch sends it (plus any future member). */
export interface IntrospectionClaims {
  active: true;
  sub?: string;
  client_id?: string;
  scope?: string;
  aud?: string | string[];
  exp?: number;
  iat?: number;
  iss?: string;
  token_type?: string;
  username?: string;
  roles?: unknown;
  [claim: string]: unknown;
}

/** The typed auth object the adapters put on the request (`ctx.state.auth`, `req.auth`). */
export interface AuthInfo {
  /** The user; undefined for a client-credentials (machine) token. */
  readonly sub: string | undefined;
  /** The client the token was issued to. */
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** `claims.roles` when Latch sends it (array of strings), else []. */
  readonly roles: readonly string[];
  readonly aud: readonly string[];
  /** Expiry, epoch seconds. */
  readonly exp: number | undefined;
  /**
   * The thumbprint of the key a DPoP-bound token is bound to (`cnf.jkt`, RFC 9449 §6.2); such a
   * token was accepted with a proof signed by that key. Undefined for a bearer token.
   */
  readonly jkt?: string | undefined;
  /** When the user last actively signed in (epoch seconds, RFC 9470 `auth_time`); undefined for a machine token. */
  readonly authTime?: number;
  /** How the user signed in (RFC 9470 `acr`), when Latch says. */
  readonly acr?: string;
  /** The whole introspection response, frozen. */
  readonly claims: Readonly<IntrospectionClaims>;
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

export function audiences(claims: Pick<IntrospectionClaims, 'aud'>): string[] {
  return typeof claims.aud === 'string' ? [claims.aud] : strings(claims.aud);
}

/**
 * RFC 9449 §6: a DPoP-bound token's introspection answer carries `cnf.jkt` and `token_type` DPoP.
 * Either one makes the token bound; `''` when the answer says DPoP but names no key (it can then be
 * used by nobody). Undefined for a bearer token.
 */
export function boundKey(claims: Partial<IntrospectionClaims>): string | undefined {
  const cnf = claims.cnf as { jkt?: unknown } | undefined;
  if (typeof cnf === 'object' && cnf !== null && cnf.jkt !== undefined) return typeof cnf.jkt === 'string' ? cnf.jkt : '';
  return String(claims.token_type ?? '').toLowerCase() === 'dpop' ? '' : undefined;
}

export function toAuthInfo(claims: IntrospectionClaims & { client_id: string }): AuthInfo {
  return Object.freeze({
    sub: typeof claims.sub === 'string' ? claims.sub : undefined,
    clientId: claims.client_id,
    scopes: Object.freeze(typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : []),
    roles: Object.freeze(strings(claims.roles)),
    aud: Object.freeze(audiences(claims)),
    exp: typeof claims.exp === 'number' ? claims.exp : undefined,
    jkt: boundKey(claims),
    authTime: typeof claims.auth_time === 'number' ? claims.auth_time : undefined,
    acr: typeof claims.acr === 'string' ? claims.acr : undefined,
    claims: Object.freeze({ ...claims }),
  });
}
