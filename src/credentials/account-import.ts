import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AccountStore, NewAccount } from '../accounts/account-store.js';
import { parsePasswordHash, PasswordHashError } from '../accounts/password-hashes.js';
import type { RolePolicy } from '../accounts/role-policy.js';
import type { AuditLog } from '../admin/audit-log.js';
import { fieldPath } from '../config/config-error.js';
import type { Actor } from '../revocation/revocations.js';
import { accountFields } from './account-fields.js';
import type { Credentials } from './credentials.js';

/** One line of an import file (docs/accounts.md, "Import"). */
export const importLine = z.strictObject({
  username: accountFields.username,
  sub: accountFields.sub.optional(),
  email: accountFields.email.optional(),
  name: accountFields.name.optional(),
  roles: accountFields.roles.default([]),
  /** An existing hash (scrypt or bcrypt forms: password-hashes.ts); without one the account needs a reset link to sign in. */
  password_hash: z.string().min(1).max(1024).optional(),
  password_change_required: z.boolean().default(false),
  disabled: z.boolean().default(false),
});

export interface ImportOptions {
  /** What an existing username or subject makes of its line: `skip` (reported, not counted as a failure) or `fail`. */
  existing: 'skip' | 'fail';
  /** Validate and check for conflicts; write nothing. */
  dryRun: boolean;
  /** The file line number of the first line of this batch (so errors name the line of the file). */
  firstLine: number;
  by: Actor;
}

export type LineStatus = 'created' | 'skipped' | 'failed' | 'valid';

export interface LineResult {
  line: number;
  username?: string;
  status: LineStatus;
  /** Why it was skipped or failed, naming the field. */
  error?: string;
}

export interface ImportReport {
  dry_run: boolean;
  created: number;
  skipped: number;
  failed: number;
  valid: number;
  results: LineResult[];
  audit_id?: string;
}

export const MAX_IMPORT_LINES = 10_000;

class LineError extends Error {}

/**
 * Bulk import of accounts from JSON lines, with their existing password hashes. Each line is
 * validated on its own (JSON, fields, roles known to the config, a hash Latch can verify within its
 * work bounds) and its errors name the line and the field; an existing username or subject is
 * never overwritten (skipped or failed, as asked) and a deleted subject is never re-created.
 * Lines are applied in order, so a username twice in one file creates the first.
 */
export class AccountImport {
  constructor(
    private readonly accounts: AccountStore,
    private readonly credentials: Credentials,
    private readonly roles: RolePolicy,
    private readonly audit: AuditLog,
  ) {}

  async run(text: string, options: ImportOptions): Promise<ImportReport> {
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const report: ImportReport = { dry_run: options.dryRun, created: 0, skipped: 0, failed: 0, valid: 0, results: [] };
    const seen = { usernames: new Set<string>(), subs: new Set<string>() };
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!.replace(/\r$/, '');
      if (raw.trim() === '') continue;
      const result = await this.#line(raw, options.firstLine + i, options, seen);
      report.results.push(result);
      report[result.status]++;
    }
    if (!options.dryRun) {
      const last = options.firstLine + lines.length - 1;
      const entry = await this.audit.append({
        actor: options.by.actor, action: 'import-accounts', target: 'accounts', reason: options.by.reason, count: 0,
        detail: { lines: `${options.firstLine}-${last}`, created: report.created, skipped: report.skipped, failed: report.failed, existing: options.existing },
      });
      report.audit_id = entry.id;
    }
    return report;
  }

  async #line(raw: string, line: number, options: ImportOptions, seen: { usernames: Set<string>; subs: Set<string> }): Promise<LineResult> {
    let username: string | undefined;
    try {
      const input = this.#parse(raw);
      username = input.username;
      const sub = input.sub ?? randomBytes(16).toString('base64url');
      const account: NewAccount = {
        sub, username, email: input.email, name: input.name, roles: input.roles, passwordHash: input.password_hash,
        passwordChangeRequired: input.password_change_required, disabled: input.disabled,
      };
      const outcome = options.dryRun ? await this.#check(account, seen) : await this.accounts.createAccount(account);
      if (outcome === 'created' || outcome === 'valid') {
        if (outcome === 'created' && input.password_hash) await this.credentials.credentialChanged(sub, 'create', options.by);
        return { line, username, status: outcome };
      }
      if (outcome === 'deleted') throw new LineError(`sub: "${sub}" belonged to a deleted account; a deleted subject is never re-created`);
      const error = outcome === 'taken' ? `username: "${username}" is taken by another account` : `sub: "${sub}" already has an account`;
      return { line, username, status: options.existing === 'skip' ? 'skipped' : 'failed', error };
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      return { line, ...(username ? { username } : {}), status: 'failed', error: err.message };
    }
  }

  #parse(raw: string): z.infer<typeof importLine> {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      throw new LineError(`not valid JSON (${(err as Error).message})`);
    }
    const parsed = importLine.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
      throw new LineError(`${fieldPath(issue.path) || 'line'}: ${message}`);
    }
    const input = parsed.data;
    const unknown = input.roles.findIndex((role) => !this.roles.has(role));
    if (unknown >= 0) throw new LineError(`roles[${unknown}]: no role "${input.roles[unknown]}" in the configuration`);
    if (input.password_hash !== undefined) {
      try {
        parsePasswordHash(input.password_hash);
      } catch (err) {
        if (err instanceof PasswordHashError) throw new LineError(`password_hash: ${err.message}`);
        throw err;
      }
    }
    return input;
  }

  /** A dry run's answer for one line: what creating it would do now (and earlier lines of the same batch). */
  async #check(account: NewAccount, seen: { usernames: Set<string>; subs: Set<string> }): Promise<'valid' | 'exists' | 'deleted' | 'taken'> {
    const state = await this.accounts.subjectState(account.sub);
    if (state === 'deleted') return 'deleted';
    const username = account.username.toLowerCase();
    if (state === 'live' || seen.subs.has(account.sub)) return 'exists';
    if (seen.usernames.has(username) || (await this.accounts.findByUsername(account.username))) return 'taken';
    seen.subs.add(account.sub);
    seen.usernames.add(username);
    return 'valid';
  }
}
