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

export function toAuthInfo(claims: IntrospectionClaims & { client_id: string }): AuthInfo {
  return Object.freeze({
    sub: typeof claims.sub === 'string' ? claims.sub : undefined,
    clientId: claims.client_id,
    scopes: Object.freeze(typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : []),
    roles: Object.freeze(strings(claims.roles)),
    aud: Object.freeze(audiences(claims)),
    exp: typeof claims.exp === 'number' ? claims.exp : undefined,
    authTime: typeof claims.auth_time === 'number' ? claims.auth_time : undefined,
    acr: typeof claims.acr === 'string' ? claims.acr : undefined,
    claims: Object.freeze({ ...claims }),
  });
}
