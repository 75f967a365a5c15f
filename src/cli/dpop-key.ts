import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { CliError } from './admin-client.js';
import { printable } from './format.js';

/** The members a private key has; a key file must hold one (and a proof's jwk must not). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

/** The proof key of the CLI (RFC 9449 §4.2): signs every proof, its public half in each header. */
export interface DpopSigner {
  /** A proof for one request; `token` (an access token) becomes its `ath`, `nonce` the server's. */
  proof(htm: string, htu: string, options?: { token?: string; nonce?: string }): Promise<string>;
}

type Env = Record<string, string | undefined>;

/** Where generated keys live: one per profile (Latch URL and admin client), 0600 in a 0700 directory. */
export function profileKeyFile(env: Env, url: string, clientId: string): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  const profile = createHash('sha256').update(`${new URL(url).origin}\0${clientId}`).digest('hex').slice(0, 16);
  return join(base, 'latch', 'dpop', `${profile}.jwk`);
}

function algOf(jwk: JWK): string {
  if (jwk.alg) return jwk.alg;
  if (jwk.kty === 'EC') return jwk.crv === 'P-384' ? 'ES384' : 'ES256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  return 'PS256';
}

function readKeyFile(path: string, given: boolean): JWK {
  const mode = statSync(path).mode & 0o777;
  // Like ssh: a private key others can read is refused, not silently used.
  if (mode & 0o077) throw new CliError(printable(`the DPoP key file ${path} is readable by others (mode ${mode.toString(8)}): chmod 600 it`), 2);
  let jwk: JWK;
  try {
    jwk = JSON.parse(readFileSync(path, 'utf8')) as JWK;
  } catch {
    throw new CliError(printable(`the DPoP key file ${path} is not a JSON Web Key`), 2);
  }
  if (typeof jwk !== 'object' || jwk === null || !PRIVATE_MEMBERS.some((m) => m in jwk)) {
    throw new CliError(printable(`the DPoP key file ${path} must hold a private JWK (EC, OKP or RSA)${given ? ' (LATCH_DPOP_KEY)' : ''}`), 2);
  }
  return jwk;
}

/** Creates the profile's key once (exclusively: a second CLI racing this one reads the first one's). */
async function generatedKey(path: string): Promise<JWK> {
  try {
    return readKeyFile(path, false);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'ES256' };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  chmodSync(dirname(path), 0o700);
  try {
    writeFileSync(path, `${JSON.stringify(jwk)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readKeyFile(path, false);
    throw err;
  }
  return jwk;
}

/**
 * The CLI's DPoP key: the private JWK file `LATCH_DPOP_KEY` names, or the profile's own, generated
 * on first use (profileKeyFile). Never printed, never sent: proofs carry the public half only.
 */
export async function dpopSigner(env: Env, url: string, clientId: string): Promise<DpopSigner> {
  const jwk = env.LATCH_DPOP_KEY ? readKeyFile(env.LATCH_DPOP_KEY, true) : await generatedKey(profileKeyFile(env, url, clientId));
  const alg = algOf(jwk);
  let key: CryptoKey;
  try {
    key = (await importJWK(jwk, alg)) as CryptoKey;
  } catch (err) {
    throw new CliError(printable(`the DPoP key cannot sign ${alg}: ${(err as Error).message}`), 2);
  }
  const publicJwk = Object.fromEntries(Object.entries(jwk).filter(([name]) => ![...PRIVATE_MEMBERS, 'oth', 'key_ops', 'ext', 'use', 'kid'].includes(name)));
  return {
    async proof(htm, htu, options = {}) {
      const claims: Record<string, string> = { htm, htu };
      if (options.token) claims.ath = createHash('sha256').update(options.token).digest('base64url');
      if (options.nonce) claims.nonce = options.nonce;
      return new SignJWT(claims).setProtectedHeader({ typ: 'dpop+jwt', alg, jwk: publicJwk as JWK }).setJti(randomUUID()).setIssuedAt().sign(key);
    },
  };
}
