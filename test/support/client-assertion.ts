import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** An ES256 key pair for a private_key_jwt client: the private JWK, and the public one to register. */
export async function jwtClientKey(kid = 'test-jwt-client-1'): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), alg: 'ES256', kid },
    publicJwk: { ...(await exportJWK(publicKey)), alg: 'ES256', kid, use: 'sig' },
  };
}

export interface AssertionOptions {
  aud: string | string[];
  jti?: string;
  /** Lifetime in seconds from now (default 60). */
  expiresIn?: number;
  iss?: string;
  sub?: string;
  /** Extra or overriding claims (e.g. `{ exp: undefined }` to leave exp out). */
  claims?: Record<string, unknown>;
}

/** A signed RFC 7523 client assertion of `clientId` (iss = sub = clientId unless overridden). */
export async function clientAssertion(clientId: string, privateJwk: JWK, options: AssertionOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: options.iss ?? clientId,
    sub: options.sub ?? clientId,
    aud: options.aud,
    jti: options.jti ?? randomUUID(),
    iat: now,
    exp: now + (options.expiresIn ?? 60),
    ...options.claims,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return new SignJWT(claims).setProtectedHeader({ alg: privateJwk.alg!, kid: privateJwk.kid }).sign(await importJWK(privateJwk, privateJwk.alg));
}

/** The form fields of private_key_jwt client authentication. */
export function assertionForm(clientId: string, assertion: string): Record<string, string> {
  return { client_id: clientId, client_assertion_type: JWT_BEARER, client_assertion: assertion };
}
