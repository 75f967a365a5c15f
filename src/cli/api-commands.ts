import { CliError, type AdminClient } from './admin-client.js';
import { line, table } from './format.js';

/** The options of main.ts's parseArgs that these commands read. */
export interface ApiOptions {
  reason?: string;
  name?: string;
  scope?: string[];
  claim?: string[];
  introspector?: string[];
  ttl?: string;
  'no-claims'?: boolean;
  'no-introspectors'?: boolean;
}

export interface ApiCommandContext {
  client: AdminClient;
  values: ApiOptions;
  /** What follows `apis`: the subcommand and its arguments. */
  args: string[];
  print: (data: unknown, human: () => string) => void;
  need: (value: string | undefined, what: string) => string;
}

export const API_USAGE = `  apis list                                   the APIs (resource servers): the config file's and those registered here
  apis show <audience>
  apis create <audience> --name N --scope S... [--claim C]... [--introspector CLIENT]... [--ttl SECONDS] --reason R
                                              register an API (on every instance within a second)
  apis update <audience> [--name N] [--scope S]... [--claim C]... [--no-claims]
              [--introspector CLIENT]... [--no-introspectors] [--ttl SECONDS] --reason R
                                              a list given replaces the whole list
  apis delete <audience> --reason R           remove an API: its tokens are dead at once
`;

const COLUMNS: Array<[string, string]> = [
  ['audience', 'audience'], ['name', 'name'], ['scopes', 'scopes'], ['claims', 'claims'], ['introspectors', 'introspectors'], ['accessTokenTTL', 'ttl'], ['managed_by', 'managed by'],
];

type Api = Record<string, unknown>;

const row = (api: Api) => ({ ...api, scopes: (api.scopes as string[]).join(' '), claims: (api.claims as string[]).join(' '), introspectors: (api.introspectors as string[]).join(' ') });

function ttl(values: ApiOptions): { accessTokenTTL?: number } {
  if (values.ttl === undefined) return {};
  if (!/^\d+$/.test(values.ttl)) throw new CliError('--ttl is a number of seconds', 2);
  return { accessTokenTTL: Number(values.ttl) };
}

/** `latch admin apis …` (main.ts dispatches here): a thin client of /admin/apis. */
export async function apiCommand(ctx: ApiCommandContext): Promise<void> {
  const { client, values, args, need, print } = ctx;
  const [sub, audienceArg] = args;
  const path = () => `/admin/apis/${encodeURIComponent(need(audienceArg, 'the audience'))}`;
  const reason = () => need(values.reason, '--reason (it goes to the audit log)');

  switch (sub) {
    case 'list': {
      const { apis } = await client.call<{ apis: Api[] }>('GET', '/admin/apis');
      return print(apis, () => table(apis.map(row), COLUMNS));
    }
    case 'show': {
      const api = await client.call<Api>('GET', path());
      return print(api, () => table([row(api)], COLUMNS));
    }
    case 'create': {
      const body = {
        audience: need(audienceArg, 'the audience'), name: need(values.name, '--name'), scopes: values.scope ?? [],
        claims: values.claim ?? [], introspectors: values.introspector ?? [], ...ttl(values), reason: reason(),
      };
      const result = await client.call<{ api: Api; audit_id: string }>('POST', '/admin/apis', body);
      return print(result, () => line(`registered ${result.api.audience as string} (audit ${result.audit_id})`));
    }
    case 'update': {
      if (values.claim && values['no-claims']) throw new CliError('--claim or --no-claims, not both', 2);
      if (values.introspector && values['no-introspectors']) throw new CliError('--introspector or --no-introspectors, not both', 2);
      const body = {
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values.scope ? { scopes: values.scope } : {}),
        ...(values.claim ? { claims: values.claim } : values['no-claims'] ? { claims: [] } : {}),
        ...(values.introspector ? { introspectors: values.introspector } : values['no-introspectors'] ? { introspectors: [] } : {}),
        ...ttl(values), reason: reason(),
      };
      const target = path();
      const result = await client.call<{ api: Api; audit_id: string }>('PATCH', target, body);
      return print(result, () => line(`updated ${result.api.audience as string} to revision ${String(result.api.revision)} (audit ${result.audit_id})`));
    }
    case 'delete': {
      const target = path();
      const result = await client.call<{ deleted: Api; audit_id: string }>('DELETE', target, { reason: reason() });
      return print(result, () => line(`removed ${result.deleted.audience as string}: its tokens are dead (audit ${result.audit_id})`));
    }
    default:
      throw new CliError(`unknown command "admin apis${sub ? ` ${sub}` : ''}": use list, show, create, update or delete\n\n${API_USAGE}`, 2);
  }
}
