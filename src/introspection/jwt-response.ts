import { importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';

/** The JWS algorithms Latch can sign introspection responses with, given a key for each. */
export const RESPONSE_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

/**
 * RFC 9701 signed introspection responses: header `typ: token-introspection+jwt`, claims `iss`,
 * `aud` (the caller), `iat` and `token_introspection` (the JSON answer).
 */
export class JwtResponder {
  readonly #keys: JWK[];
  readonly #issuer: string;
  readonly #imported = new Map<string, Promise<{ key: CryptoKey | Uint8Array; kid?: string }>>();

  constructor(jwks: { keys: JWK[] }, issuer: string) {
    this.#keys = jwks.keys;
    this.#issuer = issuer;
  }

  #jwk(alg: string): JWK | undefined {
    const family = alg.startsWith('ES') ? 'EC' : alg === 'EdDSA' ? 'OKP' : 'RSA';
    return this.#keys.find((k) => (k.alg ? k.alg === alg : k.kty === family) && k.use !== 'enc');
  }

  /** The algorithms of RESPONSE_ALGS this key set can sign with (discovery, config checks). */
  supported(): string[] {
    return RESPONSE_ALGS.filter((alg) => this.#jwk(alg));
  }

  #key(alg: string) {
    let found = this.#imported.get(alg);
    if (!found) {
      const jwk = this.#jwk(alg);
      if (!jwk) throw new Error(`no signing key for ${alg}`);
      found = importJWK(jwk, alg).then((key) => ({ key, kid: jwk.kid }));
      this.#imported.set(alg, found);
    }
    return found;
  }

  /** The key (and its kid) Latch signs `alg` with: also exchanged JWT access tokens' (src/token-exchange/). */
  signingKey(alg: string): Promise<{ key: CryptoKey | Uint8Array; kid?: string }> {
    return this.#key(alg);
  }

  /** Signs another kind of JWT with the same keys (logout tokens: src/backchannel/logout-token.ts), explicitly typed `typ`. */
  async signJwt(jwt: SignJWT, alg: string, typ: string): Promise<string> {
    const { key, kid } = await this.#key(alg);
    return jwt.setProtectedHeader({ alg, typ, ...(kid ? { kid } : {}) }).sign(key);
  }

  async sign(body: object, audience: string, alg: string): Promise<string> {
    const { key, kid } = await this.#key(alg);
    return new SignJWT({ token_introspection: body })
      .setProtectedHeader({ alg, typ: 'token-introspection+jwt', ...(kid ? { kid } : {}) })
      .setIssuer(this.#issuer)
      .setAudience(audience)
      .setIssuedAt()
      .sign(key);
  }
}
