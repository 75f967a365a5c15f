import { readFileSync } from 'node:fs';
import { PasswordPolicy } from '../../src/accounts/password-policy.js';

const policy = new PasswordPolicy({ minLength: 8, maxLength: 256, resetLinkTTL: 3600 });
const alice = { username: 'alice', email: 'alice.smith@example.test' };

describe('the password policy (NIST SP 800-63B §3.1.1.2)', () => {
  it.each([
    ['seven c', 'must be at least 8 characters long'],
    ['x'.repeat(257), 'must be at most 256 characters long'],
    ['password1', 'is one of the most common passwords, the first an attacker tries: choose another'],
    ['Sunshine', 'is one of the most common passwords, the first an attacker tries: choose another'],
    ['qwertyuiop', 'is one of the most common passwords, the first an attacker tries: choose another'],
    ['ALICE.SMITH@example.test', 'must not be your username or email address'],
    ['alice.smith', 'must not be your username or email address'],
    ['zzzzzzzzzz', 'must not be one character repeated'],
  ])('refuses %j: it %s', (password, problem) => {
    expect(policy.problem(password, alice)).toBe(problem);
  });

  it('refuses the username as the password (case-insensitive)', () => {
    expect(policy.problem('Bartholomew', { username: 'bartholomew' })).toBe('must not be your username or email address');
  });

  it('refuses the current password as the new one', () => {
    expect(policy.problem('plum tree at dusk', { ...alice, current: 'plum tree at dusk' })).toBe('must differ from your current password');
  });

  it('accepts long passphrases, spaces and any script, with no composition rule', () => {
    expect(policy.problem('plum tree at dusk', alice)).toBeUndefined();
    expect(policy.problem('correcthorsebatterystaple', alice)).toBeUndefined();
    expect(policy.problem('пароль-для-меня', alice)).toBeUndefined();
    expect(policy.problem('x'.repeat(255) + 'y', alice)).toBeUndefined();
  });

  it('counts characters as Unicode code points after NFKC, not UTF-16 units or bytes', () => {
    // Four emoji are 8 UTF-16 units and 16 bytes, but four characters.
    expect(policy.problem('🔐🌍🎲🦊', alice)).toBe('must be at least 8 characters long');
    expect(policy.problem('🔐🌍🎲🦊🔐🌍🎲🦊', alice)).toBeUndefined();
  });

  it('ships a list of common passwords of 8 characters or more, with its source in its header', () => {
    const text = readFileSync(new URL('../../src/accounts/common-passwords.txt', import.meta.url), 'utf8');
    const [header, ...rest] = text.split('\n').reduce<[string[], ...string[]]>((acc, line) => (line.startsWith('#') ? (acc[0].push(line), acc) : (acc.push(line), acc)), [[]]);
    expect(header.join('\n')).toContain('@zxcvbn-ts/language-common 4.1.3 (MIT)');
    const words = rest.filter(Boolean);
    expect(words.length).toBeGreaterThan(10_000);
    expect(words.every((w) => [...w].length >= 8 && w === w.toLowerCase())).toBe(true);
    expect(words.slice(0, 3)).toEqual(['password', '12345678', '123456789']);
  });
});
