import { SignJWT } from 'jose';
import type { JwtResponder } from '../introspection/jwt-response.js';
import type { LogoutTarget } from './logout-queue.js';

/** OIDC Back-Channel Logout 1.0 §2.4: the member of `events` that makes a JWT a logout token. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * Logout tokens (OIDC Back-Channel Logout 1.0 §2.4, in the RFC 8417 Security Event Token shape):
 * a JWS signed with the keys that sign ID tokens, header `typ: logout+jwt` (explicit typing, §4.1:
 * no ID token or access token can be mistaken for one), claims `iss`, `aud` = the client, `iat`,
 * a short `exp`, `jti`, `events` and `sub`, and `sid` when Latch knows which session of the RP it
 * is. Never a `nonce` (§2.4: its absence keeps a logout token from passing as an ID token).
 */
export class LogoutTokens {
  readonly #responder: JwtResponder;
  readonly #issuer: string;
  readonly #lifetimeSeconds: number;
  readonly #defaultAlg: string;

  constructor(responder: JwtResponder, issuer: string, lifetimeSeconds: number) {
    this.#responder = responder;
    this.#issuer = issuer;
    this.#lifetimeSeconds = lifetimeSeconds;
    const algs = responder.supported();
    this.#defaultAlg = algs.includes('RS256') ? 'RS256' : algs[0]!;
  }

  /**
   * Signs the logout token of `target` with `alg` (the client's `id_token_signed_response_alg`:
   * it verifies logout tokens with the keys it verifies ID tokens with), or Latch's default when
   * Latch has no key for it. Signed at each attempt: `iat` and `exp` are the attempt's, `jti` the
   * delivery's.
   */
  async sign(target: LogoutTarget, jti: string, alg?: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ events: { [BACKCHANNEL_LOGOUT_EVENT]: {} }, ...(target.sid ? { sid: target.sid } : {}) })
      .setIssuer(this.#issuer)
      .setAudience(target.client_id)
      .setSubject(target.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + this.#lifetimeSeconds)
      .setJti(jti);
    const use = alg && this.#responder.supported().includes(alg) ? alg : this.#defaultAlg;
    return this.#responder.signJwt(jwt, use, 'logout+jwt');
  }
}
