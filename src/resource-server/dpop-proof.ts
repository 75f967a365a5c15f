import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { DpopNonces } from './dpop-nonce.js';
import { InvalidDpopProof, UseDpopNonce } from './errors.js';

/**
 * Every asymmetric JWS algorithm a proof may be signed with (RFC 9449 §4.2: "MUST NOT be none or an
 * identifier for a symmetric algorithm"); an allow-list picks from these.
 */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'];
/** What Latch and this middleware accept unless told otherwise (discovery's `dpop_signing_alg_values_supported`). */
export const DEFAULT_DPOP_ALGORITHMS: readonly string[] = ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'];

/** A proof is a few hundred bytes (an RSA-4096 key in its header about 1 KB); past this, garbage. */
const MAX_PROOF_LENGTH = 8192;
/** A jti is a random identifier (RFC 9449 §4.2: 96 bits suffice); a longer one is not worth storing. */
const MAX_JTI_LENGTH = 256;
/** JWK members that only a private (or symmetric) key has: a proof's `jwk` must have none (§4.3). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** The members of a public key by type (RFC 7638 §3.2: the thumbprint's input, and all a verifier needs). */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = { EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'], RSA: ['e', 'kty', 'n'] };

export interface ProofPolicy {
  /** Accepted `alg` values (a subset of ASYMMETRIC_ALGORITHMS). */
  algorithms: readonly string[];
  /** How old a proof's `iat` may be when it carries no nonce. */
  maxAgeSeconds: number;
  /** How far the prover's clock may be off ours (both ways). */
  clockSkewSeconds: number;
  /** This server's own nonces (§9): when given, every proof must carry a valid one. */
  nonces?: DpopNonces | undefined;
  now?: () => number;
}

/** What the request says a proof must be about. */
export interface ProofTarget {
  method: string;
  /** The absolute URL of the request (query and fragment are ignored). */
  url: string;
  /** The access token the proof comes with; its hash must be the proof's `ath` (§4.3 step 11). */
  accessToken?: string;
}

export interface VerifiedProof {
  /** The RFC 7638 thumbprint of the proof's key: a bound token's `cnf.jkt` must be this. */
  jkt: string;
  jti: string;
  iat: number;
  nonce: string | undefined;
  /** How long the jti must be remembered: as long as this proof could still be accepted. */
  replayTtlSeconds: number;
}

/** base64url SHA-256 of an access token: a proof's `ath` (RFC 9449 §4.2). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * A URL as RFC 9449 §4.3 step 9 compares `htu`: without query and fragment, after RFC 3986 §6.2.2
 * and §6.2.3 normalisation: scheme and host lower case, no default port, an empty path is `/`, dot
 * segments removed (all done by WHATWG URL parsing), percent-encodings upper case and unreserved
 * characters decoded. Undefined for anything but an absolute http(s) URL.
 */
export function normaliseHtu(value: string): string | undefined {
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || !url.host) return undefined;
  const path = url.pathname.replace(/%[0-9a-fA-F]{2}/g, (escape) => {
    const char = String.fromCharCode(parseInt(escape.slice(1), 16));
    return UNRESERVED.test(char) ? char : escape.toUpperCase();
  });
  return `${url.protocol}//${url.host}${path}`;
}

/** Imported public keys by thumbprint and alg: a client signs many proofs with one key. */
const keys = new Map<string, CryptoKey>();
const MAX_KEYS = 1000;

async function publicKey(jwk: JWK, alg: string): Promise<{ key: CryptoKey; jkt: string }> {
  const members = PUBLIC_MEMBERS[String(jwk.kty)];
  if (!members) throw new InvalidDpopProof(`the DPoP proof's jwk has an unsupported key type "${String(jwk.kty)}"`);
  const minimal = Object.fromEntries(members.map((m) => [m, (jwk as Record<string, unknown>)[m]])) as JWK;
  let jkt: string;
  try {
    jkt = await calculateJwkThumbprint(minimal, 'sha256');
  } catch (cause) {
    throw new InvalidDpopProof("the DPoP proof's jwk is not a valid public key", undefined, { cause });
  }
  const id = `${alg}.${jkt}`;
  let key = keys.get(id);
  if (!key) {
    try {
      key = (await importJWK({ ...minimal, ext: true }, alg)) as CryptoKey;
    } catch (cause) {
      throw new InvalidDpopProof(`the DPoP proof's jwk is not a valid ${alg} public key`, undefined, { cause });
    }
    if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value!);
    keys.set(id, key);
  }
  return { key, jkt };
}

function single(header: readonly string[] | string | undefined): string {
  const values = (header === undefined ? [] : typeof header === 'string' ? [header] : header).filter((v) => v !== '');
  if (values.length === 0) throw new InvalidDpopProof('the request has the DPoP scheme but no DPoP proof header');
  // RFC 9449 §4.3 step 1: not more than one DPoP header.
  if (values.length > 1) throw new InvalidDpopProof('more than one DPoP proof header');
  const proof = values[0]!.trim();
  if (proof.length > MAX_PROOF_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(proof)) {
    throw new InvalidDpopProof('the DPoP proof is not a JWT');
  }
  return proof;
}

/**
 * Checks a DPoP proof (RFC 9449 §4.3) against the request it came with: one header holding a JWT
 * whose `typ` is `dpop+jwt`, `alg` an allowed asymmetric one, `jwk` a public key (no private
 * members) that verifies the signature; `jti`, `htm` = the method, `htu` = the URL (normalised),
 * `iat` within `maxAgeSeconds` (± `clockSkewSeconds`), `ath` = the access token's hash, and the
 * server's nonce when it has nonces. What is left to the caller, who knows the token: that the
 * returned `jkt` is the token's `cnf.jkt`, and that `jti` was never seen (replay). Throws
 * InvalidDpopProof or UseDpopNonce; the descriptions name the check, never a value.
 */
export async function verifyDpopProof(header: readonly string[] | string | undefined, target: ProofTarget, policy: ProofPolicy): Promise<VerifiedProof> {
  const proof = single(header);
  let protectedHeader: ReturnType<typeof decodeProtectedHeader>;
  try {
    protectedHeader = decodeProtectedHeader(proof);
  } catch (cause) {
    throw new InvalidDpopProof('the DPoP proof has an unreadable header', undefined, { cause });
  }
  const { typ, alg, jwk } = protectedHeader;
  if (typeof typ !== 'string' || typ.toLowerCase() !== 'dpop+jwt') throw new InvalidDpopProof("the DPoP proof's typ must be dpop+jwt");
  if (typeof alg !== 'string' || !policy.algorithms.includes(alg)) {
    throw new InvalidDpopProof(`the DPoP proof's alg must be one of ${policy.algorithms.join(' ')}`);
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new InvalidDpopProof('the DPoP proof has no jwk header');
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) throw new InvalidDpopProof("the DPoP proof's jwk must be a public key (it has private key members)");
  const { key, jkt } = await publicKey(jwk, alg);

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(proof, key, { algorithms: [alg], typ: 'dpop+jwt' }));
  } catch (cause) {
    throw new InvalidDpopProof('the DPoP proof signature or claims are invalid', undefined, { cause });
  }
  const { jti, htm, htu, iat, ath, nonce } = payload as JWTPayload & { htm?: unknown; htu?: unknown; ath?: unknown; nonce?: unknown };
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) throw new InvalidDpopProof('the DPoP proof must have a jti (a string of at most 256 characters)');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new InvalidDpopProof('the DPoP proof must have a numeric iat');
  if (htm !== target.method) throw new InvalidDpopProof('the DPoP proof is for another HTTP method (htm)');
  const expected = normaliseHtu(target.url);
  if (typeof htu !== 'string' || expected === undefined || normaliseHtu(htu) !== expected) throw new InvalidDpopProof('the DPoP proof is for another URL (htu)');
  if (target.accessToken !== undefined && ath !== accessTokenHash(target.accessToken)) {
    throw new InvalidDpopProof('the DPoP proof is not for this access token (ath)');
  }
  if (nonce !== undefined && typeof nonce !== 'string') throw new InvalidDpopProof('the DPoP proof nonce must be a string');

  const now = Math.floor((policy.now ?? Date.now)() / 1000);
  const { nonces, maxAgeSeconds, clockSkewSeconds } = policy;
  if (nonces) {
    // §9: with server nonces the nonce, not iat, says the proof is fresh; a clock that is off
    // only costs the client one round trip for a nonce.
    if (nonce === undefined) throw new UseDpopNonce('the DPoP proof must carry this server\'s nonce', nonces.current());
    if (!nonces.check(nonce)) throw new UseDpopNonce('the DPoP proof carries an unknown or expired nonce', nonces.current());
    return { jkt, jti, iat, nonce, replayTtlSeconds: nonces.lifetimeSeconds };
  }
  // §11.1: without nonces, iat bounds how long a proof can be used; jti is remembered that long.
  if (iat > now + clockSkewSeconds || iat < now - maxAgeSeconds - clockSkewSeconds) {
    throw new InvalidDpopProof(`the DPoP proof's iat is more than ${maxAgeSeconds} s old or in the future (clock skew allowed: ${clockSkewSeconds} s)`);
  }
  return { jkt, jti, iat, nonce, replayTtlSeconds: Math.max(1, iat + maxAgeSeconds + clockSkewSeconds - now) };
}
