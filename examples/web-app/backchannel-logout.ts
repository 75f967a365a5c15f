import { createRemoteJWKSet, errors, jwtVerify } from 'jose';

/** OIDC Back-Channel Logout 1.0 §2.4: the member of `events` that makes a JWT a logout token. */
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Who a valid logout token logs out: the RP session with that `sid`, or every session of `sub`. */
export interface LogoutRequest {
  sub?: string;
  sid?: string;
  /** True when this token was already seen (delivery is at-least-once): nothing more to do. */
  replay: boolean;
}

export class InvalidLogoutToken extends Error {}

/**
 * Validates logout tokens as §2.6 says: signature against Latch's JWKS, `typ: logout+jwt`
 * (explicit typing, so an ID token cannot be replayed as one), `iss`, `aud` = this client, `iat`,
 * `exp` (with a few seconds of clock tolerance), the `events` member, `sub` or `sid`, no `nonce`;
 * and remembers each `jti` until its token expires, so a replayed token logs nobody out twice.
 */
export class LogoutTokenVerifier {
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>;
  readonly #issuer: string;
  readonly #clientId: string;
  /** jti → the token's exp (s). */
  readonly #seen = new Map<string, number>();

  constructor(options: { issuer: string; jwksUri: string; clientId: string }) {
    this.#jwks = createRemoteJWKSet(new URL(options.jwksUri));
    this.#issuer = options.issuer;
    this.#clientId = options.clientId;
  }

  async verify(token: string): Promise<LogoutRequest> {
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(token, this.#jwks, {
        issuer: this.#issuer,
        audience: this.#clientId,
        typ: 'logout+jwt',
        requiredClaims: ['iat', 'exp', 'jti', 'events'],
        algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
        clockTolerance: 5,
      }));
    } catch (err) {
      throw new InvalidLogoutToken(err instanceof errors.JOSEError ? `${err.code}: ${err.message}` : 'not a JWT');
    }
    const events = claims.events as Record<string, unknown> | undefined;
    const event = events?.[LOGOUT_EVENT];
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new InvalidLogoutToken(`events must have a ${LOGOUT_EVENT} member`);
    if ('nonce' in claims) throw new InvalidLogoutToken('a logout token must not carry a nonce');
    const sid = typeof claims.sid === 'string' ? claims.sid : undefined;
    if (!claims.sub && !sid) throw new InvalidLogoutToken('a logout token names a sub or a sid');
    const now = Math.floor(Date.now() / 1000);
    for (const [jti, exp] of this.#seen) if (exp + 5 < now) this.#seen.delete(jti);
    const replay = this.#seen.has(claims.jti!);
    this.#seen.set(claims.jti!, claims.exp!);
    return { sub: claims.sub, sid, replay };
  }
}
