import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import type { ClientAuthOptions, PrivateKeyJwt } from './options.js';

/** What to add to an introspection request to authenticate this resource server. */
export interface ClientCredentials {
  headers: Record<string, string>;
  form: Record<string, string>;
}

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

function defaultAlg(key: PrivateKeyJwt['privateKey']): string {
  if (key instanceof globalThis.CryptoKey) {
    const name = key.algorithm.name;
    if (name === 'ECDSA') return 'ES256';
    if (name === 'Ed25519') return 'EdDSA';
    return name === 'RSA-PSS' ? 'PS256' : 'RS256';
  }
  const jwk = key as JWK;
  if (jwk.alg) return jwk.alg;
  if (jwk.kty === 'EC') return jwk.crv === 'P-384' ? 'ES384' : 'ES256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  return 'RS256';
}

/**
 * Returns a function producing the client authentication of one request.
 * client_secret_basic: RFC 6749 §2.3.1 form-encodes id and secret before base64.
 * private_key_jwt: a fresh one-minute assertion per request (RFC 7523 §3; Latch rejects a reused
 * `jti`), with `aud` = the issuer identifier, the only audience Latch accepts (RFC 9700 §2.6).
 */
export function clientAuthentication(client: ClientAuthOptions): (audience: string) => Promise<ClientCredentials> {
  if (client.method !== 'private_key_jwt') {
    const basic = Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64');
    const credentials = { headers: { authorization: `Basic ${basic}` }, form: {} };
    return async () => credentials;
  }
  const alg = client.alg ?? defaultAlg(client.privateKey);
  const kid = client.kid ?? (client.privateKey instanceof globalThis.CryptoKey ? undefined : (client.privateKey as JWK).kid);
  const key = client.privateKey instanceof globalThis.CryptoKey ? Promise.resolve(client.privateKey) : importJWK(client.privateKey as JWK, alg);
  return async (audience) => {
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
      .setIssuer(client.clientId)
      .setSubject(client.clientId)
      .setAudience(audience)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(await key);
    return { headers: {}, form: { client_id: client.clientId, client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion } };
  };
}
