/**
 * The rules every `private_key_jwt` client assertion (RFC 7523 §2.2, §3) must meet at Latch, one
 * set for every endpoint: `/token` and `/revoke` apply them through oidc-provider's
 * `assertJwtClientAuthClaimsAndHeader` hook (configuration.ts), `/introspect` in its own client
 * authentication (src/introspection/client-authenticator.ts).
 */

/** Asymmetric algorithms only: no client shares a secret to sign with (no client_secret_jwt). */
export const ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA'];

/** An assertion is a one-shot credential: it may live at most this long (seconds from now). */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;

/** The clock tolerance of every time check (oidc-provider's `clockTolerance`, the adapter's). */
export const CLOCK_TOLERANCE_SECONDS = 15;

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface AssertionClaims {
  aud?: unknown;
  exp?: unknown;
  iat?: unknown;
}

/**
 * What is wrong with an assertion's claims beyond its signature, or undefined. The audience rule
 * of draft-ietf-oauth-rfc7523bis and RFC 9700 §2.6: `aud` is the issuer identifier and nothing
 * else (a one-element array is accepted for interoperability). Accepting endpoint URLs lets an
 * assertion made for another server, which used that URL as its own, be replayed here
 * (the audience-injection attack).
 */
export function assertionProblem(claims: AssertionClaims, issuer: string, now = Math.floor(Date.now() / 1000)): string | undefined {
  const aud = Array.isArray(claims.aud) && claims.aud.length === 1 ? claims.aud[0] : claims.aud;
  if (aud !== issuer) return `the client assertion's audience (aud) must be the issuer identifier ${issuer}, alone`;
  if (typeof claims.exp !== 'number') return 'the client assertion must have an expiration (exp)';
  if (claims.exp > now + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS) {
    return `the client assertion must expire within ${MAX_ASSERTION_LIFETIME_SECONDS} seconds`;
  }
  if (claims.iat !== undefined && (typeof claims.iat !== 'number' || claims.iat > now + CLOCK_TOLERANCE_SECONDS)) {
    return 'the client assertion was issued in the future (iat)';
  }
  return undefined;
}
