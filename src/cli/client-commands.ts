import { readFile } from 'node:fs/promises';
import { CliError, type AdminClient } from './admin-client.js';
import { line, table } from './format.js';

/** The options of main.ts's parseArgs that these commands read. */
export interface ClientOptions {
  reason?: string;
  name?: string;
  'grant-type'?: string[];
  'redirect-uri'?: string[];
  'post-logout-uri'?: string[];
  /** Repeatable (shared with the API commands); joined with spaces. */
  scope?: string[];
  resource?: string[];
  'auth-method'?: string;
  'access-token-ttl'?: string;
  'refresh-token-ttl'?: string;
  'jwks-file'?: string;
  'metadata-file'?: string;
  'backchannel-logout-uri'?: string;
  grace?: string;
  uses?: string;
  ttl?: string;
}

export interface ClientCommandContext {
  client: AdminClient;
  values: ClientOptions;
  args: string[];
  json: boolean;
  print: (data: unknown, human: () => string) => void;
  need: (value: string | undefined, what: string) => string;
  err: (text: string) => void;
  /** Prints a revocation's result and waits for its cleanup job (main.ts). */
  revoked: (what: string, result: Record<string, unknown>) => Promise<void>;
}

export const CLIENT_USAGE = `  clients                                     list every client (config ones are read-only)
  client <client_id>                          show a client
  create-client <client_id> --reason R [--name N] [--grant-type G]... [--redirect-uri U]...
                [--post-logout-uri U]... [--scope S]... [--resource AUD]... [--auth-method M]
                [--access-token-ttl S] [--refresh-token-ttl S] [--jwks-file F]
                [--backchannel-logout-uri U] [--metadata-file F.json]
                                              create a client; its secret is printed once
  update-client <client_id> --reason R [the same options]
                                              change what the options name (the rest stays)
  rotate-secret <client_id> --reason R [--grace 1h]
                                              a new secret (printed once); the old one keeps
                                              working for the grace period (default 0: dies now)
  delete-client <client_id> --reason R        revoke everything the client holds, then delete it
  initial-access-token --reason R [--uses N] [--ttl 7d] [--grant-type G]... [--scope S]...
                [--resource AUD]...           a token a developer registers one client with
                                              (RFC 7591); printed once
`;

export const CLIENT_COMMANDS = new Set(['clients', 'client', 'create-client', 'update-client', 'rotate-secret', 'delete-client', 'initial-access-token']);

const COLUMNS: Array<[string, string]> = [
  ['client_id', 'client_id'], ['client_name', 'name'], ['managed_by', 'managed by'], ['token_endpoint_auth_method', 'auth'], ['grant_types', 'grant types'],
  ['scope', 'scope'], ['resources', 'resources'],
];

/** `90`, `90s`, `15m`, `1h`, `7d` → seconds. */
export function duration(text: string, what: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!match) throw new CliError(`${what}: not a duration (e.g. 90, 15m, 1h, 7d)`, 2);
  return Number(match[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
}

function integer(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new CliError(`${what}: must be a whole number`, 2);
  return Number(text);
}

async function jsonFile(path: string, what: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`${what}: cannot read ${path} as JSON (${(err as Error).message})`, 2);
  }
}

/** The client metadata the options name (only those given: an update changes nothing else). */
async function metadata(values: ClientOptions): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = values['metadata-file'] ? await jsonFile(values['metadata-file'], '--metadata-file') : {};
  if (values.name !== undefined) out.client_name = values.name;
  if (values['grant-type']) out.grant_types = values['grant-type'];
  if (values['redirect-uri']) out.redirect_uris = values['redirect-uri'];
  if (values['post-logout-uri']) out.post_logout_redirect_uris = values['post-logout-uri'];
  if (values.scope !== undefined) out.scope = values.scope.join(' ');
  if (values.resource) out.resources = values.resource;
  if (values['auth-method']) out.token_endpoint_auth_method = values['auth-method'];
  const accessTTL = integer(values['access-token-ttl'], '--access-token-ttl');
  if (accessTTL !== undefined) out.access_token_ttl = accessTTL;
  const refreshTTL = integer(values['refresh-token-ttl'], '--refresh-token-ttl');
  if (refreshTTL !== undefined) out.refresh_token_ttl = refreshTTL;
  if (values['jwks-file']) out.jwks = await jsonFile(values['jwks-file'], '--jwks-file');
  if (values['backchannel-logout-uri']) out.backchannel_logout_uri = values['backchannel-logout-uri'];
  return out;
}

/** A secret goes to standard output alone on its line (easy to capture), with a warning on stderr. */
function showSecret(ctx: ClientCommandContext, what: string, secret: string | undefined): void {
  if (!secret || ctx.json) return;
  ctx.err(`${what}: shown once, Latch keeps only its hash; store it now\n`);
}

/** Clients managed at run time (docs/clients.md): list, show, create, update, rotate, delete. */
export async function clientCommand(command: string, ctx: ClientCommandContext): Promise<void> {
  const { client, values, args, print, need } = ctx;
  const id = () => encodeURIComponent(need(args[0], 'the client id'));
  const reason = () => need(values.reason, '--reason (it goes to the audit log)');
  switch (command) {
    case 'clients': {
      const { clients } = await client.call<{ clients: Array<Record<string, unknown>> }>('GET', '/admin/clients');
      return print(clients, () => table(clients, COLUMNS));
    }
    case 'client': {
      const found = await client.call<Record<string, unknown>>('GET', `/admin/clients/${id()}`);
      return print(found, () => table([found], COLUMNS));
    }
    case 'create-client': {
      const body = { client_id: need(args[0], 'the client id'), ...(await metadata(values)), reason: reason() };
      const result = await client.call<{ client: Record<string, unknown>; client_secret?: string; audit_id: string }>('POST', '/admin/clients', body);
      showSecret(ctx, 'client secret', result.client_secret);
      return print(result, () => line(`created client ${String(result.client.client_id)} (audit ${result.audit_id})`) + (result.client_secret ? `${result.client_secret}\n` : ''));
    }
    case 'update-client': {
      const body = { ...(await metadata(values)), reason: reason() };
      const result = await client.call<{ changed: string[]; client_secret?: string; audit_id: string }>('PATCH', `/admin/clients/${id()}`, body);
      showSecret(ctx, 'client secret', result.client_secret);
      return print(result, () => line(`updated ${args[0]}: ${result.changed.join(', ') || 'nothing changed'} (audit ${result.audit_id})`) + (result.client_secret ? `${result.client_secret}\n` : ''));
    }
    case 'rotate-secret': {
      const grace = values.grace === undefined ? 0 : duration(values.grace, '--grace');
      const result = await client.call<{ client: Record<string, unknown>; client_secret: string; audit_id: string }>('POST', `/admin/clients/${id()}/rotate-secret`, { grace_seconds: grace, reason: reason() });
      showSecret(ctx, 'new client secret', result.client_secret);
      const until = result.client.previous_secret_expires_at as number | undefined;
      const old = until ? `the old secret works until ${new Date(until * 1000).toISOString()}` : 'the old secret is dead now';
      return print(result, () => line(`rotated the secret of ${args[0]}: ${old} (audit ${result.audit_id})`) + `${result.client_secret}\n`);
    }
    case 'delete-client':
      return ctx.revoked(`deleted client ${args[0]}`, await client.call('POST', `/admin/clients/${id()}/delete`, { reason: reason() }));
    case 'initial-access-token': {
      const body: Record<string, unknown> = { reason: reason() };
      const uses = integer(values.uses, '--uses');
      if (uses !== undefined) body.uses = uses;
      if (values.ttl !== undefined) body.ttl_seconds = duration(values.ttl, '--ttl');
      const policy: Record<string, unknown> = {};
      if (values['grant-type']) policy.grant_types = values['grant-type'];
      if (values.scope !== undefined) policy.scope = values.scope.join(' ');
      if (values.resource) policy.resources = values.resource;
      if (Object.keys(policy).length) body.policy = policy;
      const result = await client.call<{ initial_access_token: string; expires_at: number; uses: number; audit_id: string }>('POST', '/admin/initial-access-tokens', body);
      showSecret(ctx, 'initial access token', result.initial_access_token);
      return print(result, () => line(`initial access token for ${result.uses} registration(s), until ${new Date(result.expires_at * 1000).toISOString()} (audit ${result.audit_id})`) + `${result.initial_access_token}\n`);
    }
    default:
      throw new CliError(`unknown command "admin ${command}"`, 2);
  }
}
