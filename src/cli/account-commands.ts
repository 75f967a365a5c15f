import { readFile } from 'node:fs/promises';
import { CliError, type AdminClient } from './admin-client.js';
import { line, table } from './format.js';

/** The options of main.ts's parseArgs that these commands read. */
export interface AccountOptions {
  reason?: string;
  email?: string;
  name?: string;
  role?: string[];
  sub?: string;
  prefix?: string;
  cursor?: string;
  limit?: string;
  all?: boolean;
  'password-stdin'?: boolean;
  'require-change'?: boolean;
  'keep-sessions'?: boolean;
  'revoke-password'?: boolean;
  'clear-email'?: boolean;
  'clear-name'?: boolean;
  cancel?: boolean;
  ttl?: string;
  existing?: string;
  'dry-run'?: boolean;
}

export interface AccountCommandContext {
  client: AdminClient;
  values: AccountOptions;
  args: string[];
  json: boolean;
  stdin: () => Promise<string>;
  err: (text: string) => void;
  print: (data: unknown, human: () => string) => void;
  need: (value: string | undefined, what: string) => string;
  /** Prints a revocation's result and waits for its cleanup job (main.ts). */
  revoked: (what: string, result: Record<string, unknown>) => Promise<void>;
}

export const ACCOUNT_USAGE = `  accounts [--prefix P | --email E] [--limit N] [--cursor C] [--all]
                                              list or search accounts (by username prefix or email)
  create-account <username> [--email E] [--name N] [--role R]... [--sub S]
                 [--password-stdin] [--require-change] --reason R
                                              create an account (no password: prints a set-up link)
  update-account <username> [--email E | --clear-email] [--name N | --clear-name] --reason R
  set-password <username> --reason R [--require-change] [--keep-sessions]
                                              password read from standard input; revokes every
                                              session and token unless --keep-sessions
  require-password-change <username> --reason R [--cancel]
                                              ask for a new password at the next login
  reset-link <username> --reason R [--revoke-password] [--ttl SECONDS]
                                              a one-time link to set a new password
  delete-account <username> --reason R        revoke everything and delete (a tombstone stays)
  import <file.jsonl> --reason R [--existing skip|fail] [--dry-run]
                                              import accounts with existing password hashes
`;

export const ACCOUNT_COMMANDS = new Set(['accounts', 'create-account', 'update-account', 'set-password', 'require-password-change', 'reset-link', 'delete-account', 'import']);

const ACCOUNT_COLUMNS: Array<[string, string]> = [
  ['username', 'username'], ['sub', 'sub'], ['email', 'email'], ['name', 'name'], ['roles', 'roles'], ['disabled', 'disabled'],
  ['has_password', 'password'], ['password_change_required', 'must change'],
];

/** Lines per import request (the API takes up to 10,000; smaller batches keep each request short). */
const IMPORT_BATCH = 1000;

interface ImportReport {
  created: number;
  skipped: number;
  failed: number;
  valid: number;
  results: Array<{ line: number; username?: string; status: string; error?: string }>;
}

/** The password on standard input, without the line end a shell or a file adds (spaces are kept). */
async function passwordFromStdin(ctx: AccountCommandContext): Promise<string> {
  const text = (await ctx.stdin()).replace(/\r?\n$/, '');
  if (!text) throw new CliError('the password is read from standard input (never a flag: it would show in ps and history); none was given', 2);
  return text;
}

async function importFile(ctx: AccountCommandContext, path: string, reason: string): Promise<void> {
  const { client, values } = ctx;
  const existing = values.existing ?? 'skip';
  if (existing !== 'skip' && existing !== 'fail') throw new CliError('--existing is skip or fail', 2);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, 1);
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const send = async (dryRun: boolean): Promise<ImportReport> => {
    const total: ImportReport = { created: 0, skipped: 0, failed: 0, valid: 0, results: [] };
    for (let start = 0; start < lines.length; start += IMPORT_BATCH) {
      const query = new URLSearchParams({ reason, existing, dry_run: String(dryRun), first_line: String(start + 1) });
      const body = lines.slice(start, start + IMPORT_BATCH).join('\n') + '\n';
      const report = await client.call<ImportReport>('POST', `/admin/accounts/import?${query}`, body, 'application/x-ndjson');
      for (const key of ['created', 'skipped', 'failed', 'valid'] as const) total[key] += report[key];
      total.results.push(...report.results);
      if (!ctx.json && lines.length > IMPORT_BATCH) ctx.err(`import: ${Math.min(start + IMPORT_BATCH, lines.length)}/${lines.length} lines\n`);
    }
    return total;
  };
  // With --existing fail the whole file is checked first: one refused line and nothing is written.
  const checked = values['dry-run'] || existing === 'fail' ? await send(true) : undefined;
  const report = values['dry-run'] || (checked && checked.failed > 0) ? checked! : await send(false);
  const problems = report.results.filter((r) => r.status === 'failed' || r.status === 'skipped');
  ctx.print(report, () => {
    const what = values['dry-run'] ? `dry run: ${report.valid} valid` : checked && checked.failed > 0 ? 'nothing imported (--existing fail)' : `created ${report.created}`;
    return line(`${what}, skipped ${report.skipped}, failed ${report.failed}`) + (problems.length ? table(problems, [['line', 'line'], ['username', 'username'], ['status', 'status'], ['error', 'why']]) : '');
  });
  if (report.failed > 0) throw new CliError(`${report.failed} line(s) failed`, 1);
}

/** Runs one of ACCOUNT_COMMANDS (main.ts dispatches here). */
export async function accountCommand(command: string, ctx: AccountCommandContext): Promise<void> {
  const { client, values, args, need, print } = ctx;
  const user = (i = 0) => encodeURIComponent(need(args[i], 'the username'));
  const reason = () => need(values.reason, '--reason (it goes to the audit log)');

  switch (command) {
    case 'accounts': {
      if (values.prefix !== undefined && values.email !== undefined) throw new CliError('search by --prefix or by --email, not both', 2);
      const accounts: Array<Record<string, unknown>> = [];
      let cursor = values.cursor;
      for (;;) {
        const query = new URLSearchParams({
          limit: values.limit ?? '50', ...(values.prefix !== undefined ? { prefix: values.prefix } : {}), ...(values.email ? { email: values.email } : {}), ...(cursor ? { cursor } : {}),
        });
        const page = await client.call<{ accounts: Array<Record<string, unknown>>; next_cursor?: string }>('GET', `/admin/accounts?${query}`);
        accounts.push(...page.accounts);
        cursor = page.next_cursor;
        if (!cursor || !values.all) break;
      }
      print(accounts, () => table(accounts.map((a) => ({ ...a, roles: (a.roles as string[]).join(' '), has_password: a.has_password ? 'set' : 'none' })), ACCOUNT_COLUMNS));
      if (cursor && !ctx.json) ctx.err(line(`more: --cursor ${cursor} (or --all)`));
      return;
    }
    case 'create-account': {
      const body = {
        username: need(args[0], 'the username'), reason: reason(),
        ...(values.sub ? { sub: values.sub } : {}), ...(values.email ? { email: values.email } : {}), ...(values.name ? { name: values.name } : {}),
        roles: values.role ?? [], password_change_required: !!values['require-change'],
        ...(values['password-stdin'] ? { password: await passwordFromStdin(ctx) } : {}),
      };
      const result = await client.call<{ account: { username: string; sub: string }; setup_link?: { link?: string; expires_at: number; delivered: boolean }; audit_id: string }>('POST', '/admin/accounts', body);
      return print(result, () => {
        const head = line(`created ${result.account.username} (sub ${result.account.sub}; audit ${result.audit_id})`);
        const setup = result.setup_link;
        if (!setup) return head;
        const until = new Date(setup.expires_at).toISOString();
        return head + (setup.link ? line(`set-up link (one use, until ${until}): ${setup.link}`) : line(`set-up link sent by the mail sender (until ${until})`));
      });
    }
    case 'update-account': {
      if (values.email && values['clear-email']) throw new CliError('--email or --clear-email, not both', 2);
      if (values.name && values['clear-name']) throw new CliError('--name or --clear-name, not both', 2);
      const body = {
        reason: reason(),
        ...(values.email ? { email: values.email } : values['clear-email'] ? { email: null } : {}),
        ...(values.name ? { name: values.name } : values['clear-name'] ? { name: null } : {}),
      };
      const result = await client.call<{ account: Record<string, unknown>; audit_id: string }>('PATCH', `/admin/accounts/${user()}`, body);
      return print(result, () => table([result.account], ACCOUNT_COLUMNS.slice(0, 4)));
    }
    case 'set-password': {
      const target = user();
      const body = { password: await passwordFromStdin(ctx), reason: reason(), password_change_required: !!values['require-change'], revoke_sessions: !values['keep-sessions'] };
      const result = await client.call('PUT', `/admin/accounts/${target}/password`, body);
      return ctx.revoked(`password of ${args[0]} set`, result);
    }
    case 'require-password-change': {
      const result = await client.call('POST', `/admin/accounts/${user()}/require-password-change`, { required: !values.cancel, reason: reason() });
      return print(result, () => line(values.cancel ? `${args[0]} no longer has to change the password (audit ${result.audit_id})` : `${args[0]} must choose a new password at the next login (audit ${result.audit_id})`));
    }
    case 'reset-link': {
      const body = { reason: reason(), revoke_password: !!values['revoke-password'], ...(values.ttl ? { ttl_seconds: Number(values.ttl) } : {}) };
      const result = await client.call<{ link?: string; expires_at: number; delivered: boolean; audit_id: string }>('POST', `/admin/accounts/${user()}/reset-link`, body);
      return print(result, () => {
        const until = new Date(result.expires_at).toISOString();
        return result.link ? line(`reset link for ${args[0]} (one use, until ${until}): ${result.link}`) : line(`reset link for ${args[0]} sent by the mail sender (until ${until}; audit ${result.audit_id})`);
      });
    }
    case 'delete-account':
      return ctx.revoked(`deleted ${args[0]}`, await client.call('POST', `/admin/accounts/${user()}/delete`, { reason: reason() }));
    case 'import':
      return importFile(ctx, need(args[0], 'the JSON lines file'), reason());
    default:
      throw new CliError(`unknown command "admin ${command}"`, 2);
  }
}
