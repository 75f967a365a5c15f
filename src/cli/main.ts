import { parseArgs } from 'node:util';
import { ACCOUNT_COMMANDS, ACCOUNT_USAGE, accountCommand, type AccountOptions } from './account-commands.js';
import { AdminClient, CliError } from './admin-client.js';
import { CLIENT_COMMANDS, CLIENT_USAGE, clientCommand, type ClientOptions } from './client-commands.js';
import { API_USAGE, apiCommand, type ApiOptions } from './api-commands.js';
import { dpopSigner } from './dpop-key.js';
import { json as toJson, line, printable, progress, table } from './format.js';

const USAGE = `latch — command line for Latch security staff (a client of the admin API)

Usage: latch admin <command> [arguments] [options]

Commands:
  account <username>                          show an account
  sessions <username>                         list the account's live device sessions
  revoke-user <username> --reason R           log the account out of everything, at once
  revoke-session <username> <id> --reason R   end one device session
  revoke-client <client_id> --reason R        revoke every token of a client
  revoke-client <client_id> --user U --reason R   ...of one client for one user
  revoke-token --reason R                     revoke the token read from standard input
  set-roles <username> [role...] --reason R   replace the account's roles (live at the next request)
  logins <username>                           recent logins with their places
  disable <username> --reason R               disable: all tokens dead, logins refused
  enable <username> --reason R                enable again (old tokens stay dead)
  audit [--limit N] [--after ID] [--follow]   read the audit log (--follow keeps printing)
${ACCOUNT_USAGE}${API_USAGE}${CLIENT_USAGE}
Options:
  --json            machine-readable output
  --no-wait         do not wait for the background cleanup after a revocation
  --url URL         Latch's address (env LATCH_URL, default http://localhost:3000)
  --client-id ID    admin client (env LATCH_ADMIN_CLIENT_ID)
  secret            env LATCH_ADMIN_CLIENT_SECRET (never a flag: it would show in ps and history)
  --dpop            bind the admin token to a DPoP key and prove it on every call (env LATCH_DPOP=1);
                    the key: env LATCH_DPOP_KEY (a private JWK file, mode 0600), else one generated
                    per Latch URL and client in ~/.config/latch/dpop/ (XDG_CONFIG_HOME)

Exit codes: 0 done, 1 refused or failed, 2 bad usage, 3 Latch unreachable.
`;

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  stdin: () => Promise<string>;
  env: Record<string, string | undefined>;
  tty: boolean;
}

type Options = AccountOptions & ApiOptions & ClientOptions & { json?: boolean; reason?: string; user?: string; limit?: string; after?: string; follow?: boolean; 'no-wait'?: boolean; url?: string; 'client-id'?: string; dpop?: boolean; help?: boolean };

function need(value: string | undefined, what: string): string {
  if (!value) throw new CliError(`missing ${what}\n\n${USAGE}`, 2);
  return value;
}

async function waitForJob(client: AdminClient, job: string | undefined, io: Io, json: boolean): Promise<void> {
  if (!job) return;
  let last = '';
  for (;;) {
    const status = await client.call<{ total: number; done: number; state: string }>('GET', `/admin/jobs/${encodeURIComponent(job)}`);
    if (!json) {
      const bar = progress(status.done, status.total, io.tty);
      if (bar !== last) io.err(bar);
      last = bar;
    }
    if (status.state !== 'running') {
      if (!json && io.tty) io.err('\n');
      if (status.state === 'failed') throw new CliError('the cleanup job failed; the revocation itself stands (dead records expire by TTL)', 1);
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function dpop(env: Io['env'], url: string, clientId: string) {
  if (!URL.canParse(url)) throw new CliError(`the Latch URL is not a URL: ${printable(url)}`, 2);
  return dpopSigner(env, url, clientId);
}

async function run(argv: string[], io: Io): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' }, reason: { type: 'string' }, user: { type: 'string' }, limit: { type: 'string' }, after: { type: 'string' },
      follow: { type: 'boolean' }, 'no-wait': { type: 'boolean' }, url: { type: 'string' }, 'client-id': { type: 'string' }, dpop: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      // Account commands (account-commands.ts).
      email: { type: 'string' }, name: { type: 'string' }, role: { type: 'string', multiple: true }, sub: { type: 'string' }, prefix: { type: 'string' },
      cursor: { type: 'string' }, all: { type: 'boolean' }, 'password-stdin': { type: 'boolean' }, 'require-change': { type: 'boolean' },
      'keep-sessions': { type: 'boolean' }, 'revoke-password': { type: 'boolean' }, 'clear-email': { type: 'boolean' }, 'clear-name': { type: 'boolean' },
      cancel: { type: 'boolean' }, ttl: { type: 'string' }, existing: { type: 'string' }, 'dry-run': { type: 'boolean' },
      // API commands (api-commands.ts).
      scope: { type: 'string', multiple: true }, claim: { type: 'string', multiple: true }, introspector: { type: 'string', multiple: true },
      'no-claims': { type: 'boolean' }, 'no-introspectors': { type: 'boolean' },
      // Client commands (client-commands.ts); --scope (repeatable) is shared with the API commands.
      'grant-type': { type: 'string', multiple: true }, 'redirect-uri': { type: 'string', multiple: true }, 'post-logout-uri': { type: 'string', multiple: true },
      resource: { type: 'string', multiple: true }, 'auth-method': { type: 'string' }, 'access-token-ttl': { type: 'string' },
      'refresh-token-ttl': { type: 'string' }, 'jwks-file': { type: 'string' }, 'metadata-file': { type: 'string' }, 'backchannel-logout-uri': { type: 'string' },
      grace: { type: 'string' }, uses: { type: 'string' },
    },
  }) as { values: Options; positionals: string[] };
  const [group, command, ...args] = positionals;
  if (values.help || !group) return io.out(USAGE);
  if (group !== 'admin' || !command) throw new CliError(`unknown command "${positionals.join(' ')}"\n\n${USAGE}`, 2);

  const url = values.url ?? io.env.LATCH_URL ?? 'http://localhost:3000';
  const clientId = need(values['client-id'] ?? io.env.LATCH_ADMIN_CLIENT_ID, 'the admin client id (LATCH_ADMIN_CLIENT_ID)');
  const client = new AdminClient({
    url,
    clientId,
    clientSecret: need(io.env.LATCH_ADMIN_CLIENT_SECRET, 'the admin client secret (LATCH_ADMIN_CLIENT_SECRET)'),
    ...(values.dpop || io.env.LATCH_DPOP === '1' || io.env.LATCH_DPOP === 'true' ? { dpop: await dpop(io.env, url, clientId) } : {}),
  });
  const json = !!values.json;
  // Every string shown comes through table(), line() or toJson(): control characters escaped.
  const print = (data: unknown, human: () => string) => io.out(json ? `${toJson(data, 2)}\n` : human());
  const user = (i = 0) => encodeURIComponent(need(args[i], 'the username'));
  const reason = () => ({ reason: need(values.reason, '--reason (it goes to the audit log)') });
  const revoked = async (what: string, result: Record<string, unknown>) => {
    print(result, () => line(`${what}: ${result.tokens ?? 0} token(s) under ${result.grants ?? 0} grant(s), ${result.sessions ?? 0} session(s) dead now (audit ${result.audit_id})`));
    if (!values['no-wait']) await waitForJob(client, result.job as string | undefined, io, json);
  };

  switch (command) {
    case 'account': {
      const account = await client.call('GET', `/admin/accounts/${user()}`);
      return print(account, () => table([account], [['username', 'username'], ['sub', 'sub'], ['email', 'email'], ['roles', 'roles'], ['disabled', 'disabled']]));
    }
    case 'sessions': {
      const { sessions } = await client.call<{ sessions: Array<Record<string, unknown>> }>('GET', `/admin/accounts/${user()}/sessions`);
      return print(sessions, () =>
        table(sessions, [['id', 'id'], ['client_name', 'client'], ['created_at', 'created'], ['last_used_at', 'last used'], ['ip', 'ip'], ['place', 'place'], ['user_agent', 'user agent']]),
      );
    }
    case 'revoke-user':
      return revoked(`revoked ${args[0]}`, await client.call('POST', `/admin/accounts/${user()}/revoke`, reason()));
    case 'revoke-session':
      return revoked(`ended session ${args[1]}`, await client.call('POST', `/admin/accounts/${user()}/sessions/${encodeURIComponent(need(args[1], 'the session id'))}/revoke`, reason()));
    case 'revoke-client': {
      const id = encodeURIComponent(need(args[0], 'the client id'));
      if (values.user) return revoked(`revoked ${args[0]} for ${values.user}`, await client.call('POST', `/admin/accounts/${encodeURIComponent(values.user)}/clients/${id}/revoke`, reason()));
      return revoked(`revoked client ${args[0]}`, await client.call('POST', `/admin/clients/${id}/revoke`, reason()));
    }
    case 'revoke-token': {
      const token = (await io.stdin()).trim();
      return revoked('revoked token', await client.call('POST', '/admin/tokens/revoke', { token: need(token, 'the token on standard input'), ...reason() }));
    }
    case 'set-roles': {
      const result = await client.call<{ roles: string[]; previous: string[]; audit_id: string }>('PUT', `/admin/accounts/${user()}/roles`, { roles: args.slice(1), ...reason() });
      return print(result, () => line(`roles of ${args[0]}: ${result.previous.join(' ') || '(none)'} → ${result.roles.join(' ') || '(none)'} (audit ${result.audit_id})`));
    }
    case 'logins': {
      const { logins } = await client.call<{ logins: Array<Record<string, unknown>> }>('GET', `/admin/accounts/${user()}/logins`);
      return print(logins, () => table(logins, [['at', 'time'], ['ip', 'ip'], ['place', 'place'], ['latitude', 'lat'], ['longitude', 'lon'], ['source', 'source'], ['outcome', 'outcome']]));
    }
    case 'disable':
      return revoked(`disabled ${args[0]}`, await client.call('POST', `/admin/accounts/${user()}/disable`, reason()));
    case 'enable': {
      const result = await client.call('POST', `/admin/accounts/${user()}/enable`, reason());
      return print(result, () => line(`enabled ${args[0]} (tokens from before stay dead; audit ${result.audit_id})`));
    }
    case 'audit': {
      const columns: Array<[string, string]> = [['at', 'time'], ['actor', 'actor'], ['action', 'action'], ['target', 'target'], ['count', 'tokens'], ['reason', 'reason'], ['id', 'id']];
      let after = values.after;
      let first = true;
      for (;;) {
        const query = new URLSearchParams({ limit: values.limit ?? '100', ...(after ? { after } : {}) });
        const { entries } = await client.call<{ entries: Array<Record<string, unknown>> }>('GET', `/admin/audit?${query}`);
        if (entries.length || first) {
          if (json) entries.forEach((e) => io.out(`${toJson(e)}\n`));
          else io.out(first ? table(entries, columns) : table(entries, columns).split('\n').slice(1).join('\n'));
        }
        first = false;
        after = (entries.at(-1)?.id as string | undefined) ?? after;
        if (!values.follow) return;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    case 'apis':
      return apiCommand({ client, values, args, print, need });
    default:
      if (CLIENT_COMMANDS.has(command)) return clientCommand(command, { client, values, args, json, print, need, err: io.err, revoked });
      if (ACCOUNT_COMMANDS.has(command)) return accountCommand(command, { client, values, args, json, stdin: io.stdin, err: io.err, print, need, revoked });
      throw new CliError(`unknown command "admin ${command}"\n\n${USAGE}`, 2);
  }
}

/** Runs the CLI; returns the exit code (the process entry point passes it to process.exit). */
export async function main(argv: string[], io: Io): Promise<number> {
  try {
    await run(argv, io);
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`latch: ${err.message}\n`);
      return err.exitCode;
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`latch: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`latch: unexpected error: ${(err as Error).message}\n`);
    return 1;
  }
}
