import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { accessTokenHash } from 'latch/resource-server';

/** A client's DPoP key: the pair, its public JWK and its RFC 7638 thumbprint (a bound token's cnf.jkt). */
export interface DpopKey {
  alg: string;
  pair: { privateKey: CryptoKey; publicKey: CryptoKey };
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

export async function dpopKey(alg = 'ES256'): Promise<DpopKey> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(pair.publicKey);
  return { alg, pair, privateKey: pair.privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

export interface ProofClaims {
  htm: string;
  htu: string;
  /** The access token the proof is for (its hash becomes `ath`). */
  token?: string;
  nonce?: string;
  jti?: string;
  /** Seconds since the epoch; default now. */
  iat?: number;
  /** Anything else to put in (or, with `undefined`, take out of) the payload. */
  extra?: Record<string, unknown>;
}

/** A DPoP proof JWT (RFC 9449 §4.2), hand-made so a test can get any part of it wrong. */
export async function proof(key: DpopKey, claims: ProofClaims, header: Record<string, unknown> = {}): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: claims.jti ?? randomUUID(),
    htm: claims.htm,
    htu: claims.htu,
    iat: claims.iat ?? Math.floor(Date.now() / 1000),
    ...(claims.token === undefined ? {} : { ath: accessTokenHash(claims.token) }),
    ...(claims.nonce === undefined ? {} : { nonce: claims.nonce }),
    ...claims.extra,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...header } as never).sign(key.privateKey);
}

/** openid-client's DPoP handle for `key` (it makes the proofs and keeps the servers' nonces). */
export function dpopHandle(config: oidc.Configuration, key: DpopKey): oidc.DPoPHandle {
  return oidc.getDPoPHandle(config, key.pair);
}

/** DPoP request headers for one call: `Authorization: DPoP <token>` and its proof. */
export async function dpopHeaders(key: DpopKey, token: string, htm: string, htu: string, claims: Partial<ProofClaims> = {}): Promise<Record<string, string>> {
  return { authorization: `DPoP ${token}`, dpop: await proof(key, { htm, htu, token, ...claims }) };
}
