import { randomBytes, scryptSync } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { parsePasswordHash, PasswordHashError } from '../../src/accounts/password-hashes.js';
import { hashPassword, needsRehash, verifyPassword } from '../../src/accounts/password.js';

/** Hashes made here the way other systems make them (node:crypto scrypt, bcryptjs), never copied from anywhere. */
const PASSWORD = 'correct horse battery staple';
const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

function phcScrypt(password: string, ln: number, r: number, p: number, passlibAlphabet = false): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, { N: 2 ** ln, r, p });
  const enc = (b: Buffer) => (passlibAlphabet ? b64(b).replace(/\+/g, '.') : b64(b));
  return `$scrypt$ln=${ln},r=${r},p=${p}$${enc(salt)}$${enc(hash)}`;
}

function djangoScrypt(password: string, N: number, r: number, p: number): string {
  const salt = randomBytes(16).toString('hex').slice(0, 22);
  const hash = scryptSync(password, salt, 64, { N, r, p, maxmem: 256 * N * r });
  return `scrypt$${N}$${salt}$${r}$${p}$${hash.toString('base64')}`;
}

function plainScrypt(password: string, N: number, r: number, p: number): string {
  const salt = randomBytes(16);
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${scryptSync(password, salt, 32, { N, r, p }).toString('base64')}`;
}

describe('password hashes Latch verifies', () => {
  it.each([
    ['bcrypt $2a$', () => bcrypt.hashSync(PASSWORD, bcrypt.genSaltSync(4)).replace(/^\$2b\$/, '$2a$')],
    ['bcrypt $2b$', () => bcrypt.hashSync(PASSWORD, bcrypt.genSaltSync(5))],
    ['bcrypt $2y$', () => bcrypt.hashSync(PASSWORD, bcrypt.genSaltSync(4)).replace(/^\$2b\$/, '$2y$')],
    ['PHC scrypt', () => phcScrypt(PASSWORD, 14, 8, 1)],
    ['PHC scrypt in passlib’s alphabet', () => phcScrypt(PASSWORD, 12, 8, 2, true)],
    ['Django scrypt', () => djangoScrypt(PASSWORD, 2 ** 14, 8, 1)],
    ['scrypt$N$r$p$salt$hash (standard base64, older parameters)', () => plainScrypt(PASSWORD, 2 ** 12, 8, 1)],
  ])('verifies a %s hash, refuses a wrong password, and wants it upgraded', async (_name, make) => {
    const hash = make();
    await expect(verifyPassword(PASSWORD, hash)).resolves.toBe(true);
    await expect(verifyPassword(`${PASSWORD}!`, hash)).resolves.toBe(false);
    expect(needsRehash(hash)).toBe(true);
  });

  it('verifies its own hash of the NFKC form and does not want it upgraded', async () => {
    const hash = await hashPassword('ﬁne password'); // U+FB01 LATIN SMALL LIGATURE FI
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    await expect(verifyPassword('fine password', hash)).resolves.toBe(true);
    expect(needsRehash(hash)).toBe(false);
  });

  it.each([
    ['$2b$15$' + 'a'.repeat(53), 'bcrypt cost must be 4-14 (it is 15)'],
    ['$2x$10$' + 'a'.repeat(53), 'not a bcrypt hash Latch verifies ($2a$, $2b$ or $2y$, a two-digit cost and 53 characters)'],
    ['$scrypt$ln=20,r=8,p=1$c2FsdHNhbHQ$' + 'a'.repeat(43), 'scrypt N·r = 8388608 needs 1024 MiB per login; Latch verifies at most N·r = 524288 (64 MiB)'],
    ['$scrypt$ln=15,r=8,p=16$c2FsdHNhbHQ$' + 'a'.repeat(43), 'scrypt N·r·p = 4194304 is more work per login than Latch does (at most 2097152)'],
    ['$scrypt$ln=14,r=8$c2FsdHNhbHQ$' + 'a'.repeat(43), 'a PHC scrypt string has exactly the parameters ln, r and p (integers)'],
    ['scrypt$1000$8$1$c2FsdHNhbHQ$' + 'a'.repeat(43), 'scrypt N must be a power of 2 (it is 1000)'],
    ['scrypt$16384$8$1$c2FsdA$YQ', 'the hash must be 16-128 bytes (it is 1)'],
    ['md5$abc', 'not a password hash Latch knows: scrypt$N$r$p$salt$hash, $scrypt$ln=…,r=…,p=…$salt$hash (PHC), scrypt$N$salt$r$p$hash (Django) or bcrypt $2a$/$2b$/$2y$'],
  ])('refuses %s, saying why', (hash, message) => {
    expect(() => parsePasswordHash(hash)).toThrow(new PasswordHashError(message));
  });

  it('answers false, never throws, for a malformed stored hash', async () => {
    await expect(verifyPassword(PASSWORD, 'not a hash')).resolves.toBe(false);
    await expect(verifyPassword(PASSWORD, '')).resolves.toBe(false);
  });
});
