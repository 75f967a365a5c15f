import { importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';

/**
 * RFC 9701 signed introspection responses, in oidc-provider's shape (so both paths answer alike):
 * header `typ: token-introspection+jwt`, claims `iss`, `aud` (the caller), `iat` and
 * `token_introspection` (the JSON answer).
 */
export class JwtResponder {
  readonly #keys: JWK[];
  readonly #issuer: string;
  readonly #imported = new Map<string, Promise<{ key: CryptoKey | Uint8Array; kid?: string }>>();

  constructor(jwks: { keys: JWK[] }, issuer: string) {
    this.#keys = jwks.keys;
    this.#issuer = issuer;
  }

  #key(alg: string) {
    let found = this.#imported.get(alg);
    if (!found) {
      const family = alg.startsWith('ES') ? 'EC' : alg === 'EdDSA' ? 'OKP' : 'RSA';
      const jwk = this.#keys.find((k) => (k.alg ? k.alg === alg : k.kty === family) && k.use !== 'enc');
      if (!jwk) throw new Error(`no signing key for ${alg}`);
      found = importJWK(jwk, alg).then((key) => ({ key, kid: jwk.kid }));
      this.#imported.set(alg, found);
    }
    return found;
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
