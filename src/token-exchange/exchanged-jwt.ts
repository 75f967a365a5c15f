import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { ExchangeSubject } from '../introspection/introspect.js';
import type { JwtResponder } from '../introspection/jwt-response.js';
import type { ActClaim } from './act-claim.js';
import type { ExchangeTarget } from './exchange-policy.js';
import { signInFacts } from './sign-in-facts.js';

export interface IssuedToken {
  value: string;
  expiresIn: number;
}

/**
 * Signed JWT access tokens for internal services (RFC 9068: `typ` at+jwt, `iss` Latch, `aud` the
 * service, `sub`, `client_id` the exchanging client, `iat`, `exp`, `jti`, `scope`, the sign-in's
 * `auth_time` / `acr` / `amr`, the user's live `roles` and the claims the service is configured
 * for, `act`). Signed with Latch's keys (LATCH_JWKS), so services verify them against /jwks.
 * Nothing is stored: such a token cannot be revoked and lives its few seconds (docs/token-exchange.md).
 */
export class ExchangedJwts {
  readonly #responder: JwtResponder;
  readonly #issuer: string;

  constructor(responder: JwtResponder, issuer: string) {
    this.#responder = responder;
    this.#issuer = issuer;
  }

  async issue(target: Extract<ExchangeTarget, { kind: 'jwt' }>, subject: ExchangeSubject, clientId: string, scopes: string[], act: ActClaim): Promise<IssuedToken> {
    const now = Math.floor(Date.now() / 1000);
    // Never outlives the token it was exchanged for.
    const exp = Math.min(now + target.ttlSeconds, subject.exp ?? Infinity);
    const user = subject.accountId !== undefined;
    const claims = {
      client_id: clientId,
      scope: scopes.join(' '),
      ...signInFacts(subject.extra),
      ...(user ? { roles: subject.roles, ...subject.claims(target.claims) } : {}),
      act,
    };
    const { key, kid } = await this.#responder.signingKey(target.alg);
    const value = await new SignJWT(claims)
      .setProtectedHeader({ alg: target.alg, typ: 'at+jwt', ...(kid ? { kid } : {}) })
      .setIssuer(this.#issuer)
      .setSubject(subject.accountId ?? subject.clientId)
      .setAudience(target.audience)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomBytes(16).toString('base64url'))
      .sign(key);
    return { value, expiresIn: exp - now };
  }
}
