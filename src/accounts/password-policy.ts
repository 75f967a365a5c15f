import type { PasswordPolicyConfig } from '../config/schema.js';
import { commonPasswords } from './common-passwords.js';

/** What a new password is checked against besides itself. */
export interface PasswordContext {
  username: string;
  email?: string;
  /** The current password, when the user typed it (self-service change). */
  current?: string;
}

/**
 * NIST SP 800-63B §3.1.1.2 (memorized secrets): a minimum length (8 or more) and a generous maximum,
 * every Unicode character allowed and counted as one code point (after NFKC, the form that is
 * hashed), no composition rules (no "one digit, one symbol"), no periodic expiry, and a check against
 * passwords known to be common or expected: a list of the most common breached passwords shipped
 * with Latch (common-passwords.txt), the account's own username and email, one character repeated,
 * and (for a change) the current password.
 *
 * `problem` answers in words for the person choosing the password (shown on the page, or as the
 * admin API's error_description), or undefined when the password is acceptable.
 */
export class PasswordPolicy {
  readonly minLength: number;
  readonly maxLength: number;
  readonly #common: ReadonlySet<string>;

  constructor(config: PasswordPolicyConfig, common: ReadonlySet<string> = commonPasswords()) {
    this.minLength = config.minLength;
    this.maxLength = config.maxLength;
    this.#common = common;
  }

  problem(password: string, context: PasswordContext): string | undefined {
    const normalized = password.normalize('NFKC');
    const length = [...normalized].length;
    if (length < this.minLength) return `must be at least ${this.minLength} characters long`;
    if (length > this.maxLength) return `must be at most ${this.maxLength} characters long`;
    const folded = normalized.toLowerCase();
    if (this.#common.has(folded)) return 'is one of the most common passwords, the first an attacker tries: choose another';
    const own = [context.username, context.email, context.email?.split('@')[0]].filter((v): v is string => !!v).map((v) => v.normalize('NFKC').toLowerCase());
    if (own.includes(folded)) return 'must not be your username or email address';
    if (new Set(normalized).size === 1) return 'must not be one character repeated';
    if (context.current !== undefined && context.current.normalize('NFKC') === normalized) return 'must differ from your current password';
    return undefined;
  }
}
