import { importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';

/** Algorithms a SET may be signed with, in order of preference: RS256 first (CAEP interoperability profile §2.6). */
const ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

/** The claims of a queued SET, without the `jti` and `aud` its stream adds. */
export type SetClaims = Record<string, unknown>;

/**
 * Signs Security Event Tokens (RFC 8417) with Latch's signing keys (the ones `/jwks` publishes):
 * header `typ: secevent+jwt` (SSF §4.1.1); the claims are the queued ones plus the stream's `aud`
 * and the SET's `jti`. A SET never has `exp` or `sub` (SSF §4.1.2, §4.1.7), so nothing here adds
 * them.
 */
export class SetSigner {
  readonly alg: string;
  readonly #key: Promise<{ key: CryptoKey | Uint8Array; kid?: string }>;

  constructor(jwks: { keys: JWK[] }) {
    const pick = (alg: string) => {
      const family = alg.startsWith('ES') ? 'EC' : alg === 'EdDSA' ? 'OKP' : 'RSA';
      return jwks.keys.find((k) => (k.alg ? k.alg === alg : k.kty === family) && k.use !== 'enc' && 'd' in k);
    };
    const alg = ALGS.find((a) => pick(a));
    if (!alg) throw new Error('LATCH_JWKS has no signing key for RS256, PS256, ES256 or EdDSA');
    this.alg = alg;
    const jwk = pick(alg)!;
    this.#key = importJWK(jwk, alg).then((key) => ({ key, kid: jwk.kid }));
  }

  async sign(claims: SetClaims, jti: string, audience: string | string[]): Promise<string> {
    const { key, kid } = await this.#key;
    return new SignJWT({ ...claims, jti, aud: audience })
      .setProtectedHeader({ alg: this.alg, typ: 'secevent+jwt', ...(kid ? { kid } : {}) })
      .sign(key);
  }
}
