import { randomBytes, scrypt, type ScryptOptions } from 'node:crypto';
import { parsePasswordHash, verifyParsed } from './password-hashes.js';

/** scrypt parameters (N=2^15, r=8, p=1: about 32 MiB and tens of ms per hash on a server core). */
const PARAMS = { N: 32768, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, params: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { ...params, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** `scrypt$N$r$p$salt$hash` (base64url), self-describing so parameters can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `password` matches `encoded`, in any format Latch verifies (password-hashes.ts); false for a malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  let parsed;
  try {
    parsed = parsePasswordHash(encoded);
  } catch {
    return false;
  }
  return verifyParsed(password, parsed);
}

/** Whether a verified hash should be replaced by Latch's own (an imported format, or older parameters). */
export function needsRehash(encoded: string): boolean {
  try {
    const parsed = parsePasswordHash(encoded);
    if (parsed.format !== 'latch-scrypt') return true;
    return parsed.N !== PARAMS.N || parsed.r !== PARAMS.r || parsed.p !== PARAMS.p || parsed.hash.length !== KEY_LENGTH;
  } catch {
    return true;
  }
}

/** A hash of a random password, verified against when the username is unknown so timing does not tell. */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
}
