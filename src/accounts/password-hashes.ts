import { scrypt, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';

/**
 * The password hash formats Latch verifies (docs/accounts.md, "Import"): its own scrypt, and the
 * scrypt and bcrypt forms other systems export, so an organisation can move its users in without a
 * reset. Anything but Latch's own scrypt at Latch's parameters is upgraded at the first successful
 * login (AccountStore.authenticate).
 *
 *   latch-scrypt   scrypt$N$r$p$<salt>$<hash>            salt, hash base64 or base64url; password NFKC
 *   phc-scrypt     $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>   PHC string (passlib, @phc/scrypt);
 *                                                        B64 without padding ('.' read as '+')
 *   django-scrypt  scrypt$N$<salt>$r$p$<hash>            Django's ScryptPasswordHasher (salt as text)
 *   bcrypt         $2a$ / $2b$ / $2y$<cost>$<53 chars>   (bcryptjs)
 *
 * Imported hashes are bounded (parsePasswordHash): one login must never make Latch spend more than
 * a few times the work of its own hash (memory N·r ≤ 2^19 = 64 MiB, time N·r·p ≤ 2^21, bcrypt cost
 * ≤ 14), or a single imported line could stall an instance at every sign-in attempt.
 */
export type PasswordHashFormat = 'latch-scrypt' | 'phc-scrypt' | 'django-scrypt' | 'bcrypt';

export interface ScryptHash {
  format: 'latch-scrypt' | 'phc-scrypt' | 'django-scrypt';
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

export interface BcryptHash {
  format: 'bcrypt';
  cost: number;
  encoded: string;
}

export type ParsedPasswordHash = ScryptHash | BcryptHash;

/** A hash Latch cannot verify; the message says why, in words an importer can act on. */
export class PasswordHashError extends Error {}

const MAX_MEMORY_NR = 2 ** 19;
const MAX_WORK_NRP = 2 ** 21;
const MAX_BCRYPT_COST = 14;
const INTEGER = /^[1-9][0-9]{0,9}$/;
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

function decode(text: string, what: string, min: number, max: number): Buffer {
  if (!/^[A-Za-z0-9+/_.-]+={0,2}$/.test(text)) throw new PasswordHashError(`the ${what} is not base64`);
  const bytes = Buffer.from(text.replace(/\./g, '+'), 'base64');
  if (bytes.length < min || bytes.length > max) throw new PasswordHashError(`the ${what} must be ${min}-${max} bytes (it is ${bytes.length})`);
  return bytes;
}

function scryptParams(format: ScryptHash['format'], N: number, r: number, p: number, salt: Buffer, hash: Buffer): ScryptHash {
  if (!Number.isSafeInteger(N) || N < 2 || (N & (N - 1)) !== 0) throw new PasswordHashError(`scrypt N must be a power of 2 (it is ${N})`);
  if (!Number.isSafeInteger(r) || r < 1 || !Number.isSafeInteger(p) || p < 1 || p > 16) throw new PasswordHashError('scrypt r must be ≥ 1 and p 1-16');
  if (N * r > MAX_MEMORY_NR) throw new PasswordHashError(`scrypt N·r = ${N * r} needs ${(128 * N * r) / 2 ** 20} MiB per login; Latch verifies at most N·r = ${MAX_MEMORY_NR} (64 MiB)`);
  if (N * r * p > MAX_WORK_NRP) throw new PasswordHashError(`scrypt N·r·p = ${N * r * p} is more work per login than Latch does (at most ${MAX_WORK_NRP})`);
  return { format, N, r, p, salt, hash };
}

/** Parses and bounds a stored or imported hash; throws PasswordHashError naming what is wrong. */
export function parsePasswordHash(encoded: string): ParsedPasswordHash {
  if (encoded.length > 1024) throw new PasswordHashError('the hash is longer than 1024 characters');
  const bcryptMatch = BCRYPT.exec(encoded);
  if (bcryptMatch) {
    const cost = Number(bcryptMatch[1]);
    if (cost < 4 || cost > MAX_BCRYPT_COST) throw new PasswordHashError(`bcrypt cost must be 4-${MAX_BCRYPT_COST} (it is ${cost})`);
    return { format: 'bcrypt', cost, encoded };
  }
  if (encoded.startsWith('$2')) throw new PasswordHashError('not a bcrypt hash Latch verifies ($2a$, $2b$ or $2y$, a two-digit cost and 53 characters)');
  const parts = encoded.split('$');
  if (parts[0] === '' && parts[1] === 'scrypt') {
    if (parts.length !== 5) throw new PasswordHashError('a PHC scrypt string is $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>');
    const params = new Map(parts[2]!.split(',').map((kv) => kv.split('=') as [string, string]));
    const [ln, r, p] = ['ln', 'r', 'p'].map((k) => params.get(k));
    if (![ln, r, p].every((v) => v !== undefined && INTEGER.test(v)) || params.size !== 3) {
      throw new PasswordHashError('a PHC scrypt string has exactly the parameters ln, r and p (integers)');
    }
    if (Number(ln) > 30) throw new PasswordHashError(`scrypt ln must be at most 30 (it is ${ln})`);
    return scryptParams('phc-scrypt', 2 ** Number(ln), Number(r), Number(p), decode(parts[3]!, 'salt', 1, 256), decode(parts[4]!, 'hash', 16, 128));
  }
  if (parts[0] === 'scrypt' && parts.length === 6) {
    const [, a, b, c, d, hash] = parts as [string, string, string, string, string, string];
    if (INTEGER.test(a) && INTEGER.test(b) && INTEGER.test(c)) {
      return scryptParams('latch-scrypt', Number(a), Number(b), Number(c), decode(d, 'salt', 1, 256), decode(hash, 'hash', 16, 128));
    }
    if (INTEGER.test(a) && INTEGER.test(c) && INTEGER.test(d)) {
      if (b.length === 0 || b.length > 256) throw new PasswordHashError('the salt must be 1-256 characters');
      return scryptParams('django-scrypt', Number(a), Number(c), Number(d), Buffer.from(b, 'utf8'), decode(hash, 'hash', 16, 128));
    }
  }
  throw new PasswordHashError('not a password hash Latch knows: scrypt$N$r$p$salt$hash, $scrypt$ln=…,r=…,p=…$salt$hash (PHC), scrypt$N$salt$r$p$hash (Django) or bcrypt $2a$/$2b$/$2y$');
}

function derive(password: Buffer, parsed: ScryptHash): Promise<Buffer> {
  const { N, r, p, salt, hash } = parsed;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, hash.length, { N, r, p, maxmem: 128 * N * r + 16 * 2 ** 20 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * Whether `password` matches. Latch's own format hashed the NFKC form of the password (as
 * hashPassword does); other systems hashed the password as typed (its UTF-8 bytes).
 */
export async function verifyParsed(password: string, parsed: ParsedPasswordHash): Promise<boolean> {
  if (parsed.format === 'bcrypt') return bcrypt.compare(password, parsed.encoded);
  const text = parsed.format === 'latch-scrypt' ? password.normalize('NFKC') : password;
  const actual = await derive(Buffer.from(text, 'utf8'), parsed);
  return actual.length === parsed.hash.length && timingSafeEqual(actual, parsed.hash);
}
