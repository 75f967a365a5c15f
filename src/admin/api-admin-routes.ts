import type { Context } from 'koa';
import type { ApiFields, ApiStore, StoredApi } from '../../adapters/redis/api-store.js';
import { managedApi, type ApiTable } from '../apis/api-table.js';
import { InvalidRequest } from '../errors/oauth-error.js';
import { readJson } from '../http/request-body.js';
import type { LiveUpdates } from '../live/live-updates.js';
import type { ResourceServer, ResourceServers } from '../provider/resource-servers.js';
import type { RevocationResult } from '../revocation/revocations.js';
import { createApiBody, deleteApiBody, updateApiBody } from './api-schemas.js';
import type { AdminCaller } from './bearer-auth.js';
import { Conflict, NotFound, segment, validate, type Route } from './route-table.js';

/** The API as the admin API shows it (docs/admin-api.md#apis): the config's fields, where it is managed, and (stored ones) when and which revision. */
export function apiView(rs: ResourceServer) {
  return {
    audience: rs.audience,
    name: rs.name,
    scopes: rs.scopes,
    claims: rs.claims,
    introspectors: rs.introspectors,
    accessTokenTTL: rs.accessTokenTTL,
    managed_by: rs.managedBy,
    ...(rs.managedBy === 'admin' ? { created_at: rs.createdAt, updated_at: rs.updatedAt, revision: rs.rev } : {}),
  };
}

export interface ApiAdminDependencies {
  store: ApiStore;
  resourceServers: ResourceServers;
  table: ApiTable;
  live: LiveUpdates;
  /** The audiences of `tokenExchange.jwtAudiences` (they get JWTs: never an introspecting API). */
  jwtAudiences: readonly string[];
  /**
   * Whether a client exists (config or registered): an introspector must be one. app.ts passes
   * oidc-provider's lookup (the config's clients and the adapter's Client records) until managed
   * clients bring their own.
   */
  clientExists(clientId: string): Promise<boolean>;
  /** admin-routes.ts's: audits a write and answers with its id. */
  written(caller: AdminCaller, action: string, target: string, reason: string, result: RevocationResult | undefined, detail?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** An audience in a path: the whole URI percent-encoded as one segment (encodeURIComponent). */
const AUDIENCE = '([^/]{1,6000})';

/** Latch's own APIs (`urn:latch:admin`, `urn:latch:ssf`) start features at start-up: only the config file defines them. */
const RESERVED_PREFIX = 'urn:latch:';

const EDITABLE = ['name', 'scopes', 'claims', 'introspectors', 'accessTokenTTL'] as const;

/**
 * Resource servers managed at run time: list, show, register, change, remove. The config file's
 * APIs are listed too, read-only (409 on a write: change the file and restart). Every write is
 * stored, audited, then announced to every instance (live updates), and this instance's table has
 * it before the answer goes out.
 */
export function apiAdminRoutes(deps: ApiAdminDependencies): Route[] {
  const { store, resourceServers, table, live, written } = deps;

  function audienceOf(raw: string): string {
    return segment(raw);
  }

  function refuseConfigured(audience: string): void {
    if (resourceServers.configured(audience)) {
      throw new Conflict(`the API "${audience}" is managed by the config file (resourceServers): change it there and restart Latch`);
    }
  }

  async function stored(audience: string): Promise<StoredApi> {
    const api = await store.get(audience);
    if (!api) throw new NotFound(`no API with audience "${audience}"`);
    return api;
  }

  async function knownClients(introspectors: readonly string[] | undefined): Promise<void> {
    for (const [i, id] of (introspectors ?? []).entries()) {
      if (!(await deps.clientExists(id))) throw new InvalidRequest(`introspectors[${i}]: no client has client_id "${id}"`);
    }
  }

  /** Stored: every instance hears of it; this one has it in its table before answering. */
  async function announce(audience: string): Promise<void> {
    await live.publish('api', audience);
    await table.refresh(audience);
  }

  return [
    {
      method: 'GET', pattern: /^\/admin\/apis$/, scope: 'admin:read',
      handler: async function listApis() {
        const configured = resourceServers.all().filter((rs) => rs.managedBy === 'config');
        const managed = (await store.list()).filter((api) => !resourceServers.configured(api.audience)).map(managedApi);
        return { apis: [...configured, ...managed].map(apiView) };
      },
    },
    {
      method: 'GET', pattern: new RegExp(`^/admin/apis/${AUDIENCE}$`), scope: 'admin:read',
      handler: async function showApi(_ctx, [raw]) {
        const audience = audienceOf(raw!);
        const configured = resourceServers.configured(audience);
        return apiView(configured ?? managedApi(await stored(audience)));
      },
    },
    {
      method: 'POST', pattern: /^\/admin\/apis$/, scope: 'admin:write',
      handler: async function createApi(ctx, _params, caller) {
        const { reason, ...fields } = validate(createApiBody, await readJson(ctx));
        refuseConfigured(fields.audience);
        if (fields.audience.startsWith(RESERVED_PREFIX)) {
          throw new InvalidRequest(`audience: "${RESERVED_PREFIX}…" audiences are Latch's own APIs; only the config file defines them`);
        }
        if (fields.audience.includes('#')) throw new InvalidRequest('audience: must not contain a fragment (RFC 8707 §2)');
        if (deps.jwtAudiences.includes(fields.audience)) {
          throw new InvalidRequest(`audience: "${fields.audience}" is a tokenExchange.jwtAudiences audience (it gets JWTs, not opaque tokens)`);
        }
        await knownClients(fields.introspectors);
        const api = await store.create(fields);
        if (!api) throw new Conflict(`an API with audience "${fields.audience}" is registered already`);
        const result = await written(caller, 'create-api', `api:${api.audience}`, reason, undefined, { api: fields });
        await announce(api.audience);
        ctx.status = 201;
        return { api: apiView(managedApi(api)), audit_id: result.audit_id };
      },
    },
    {
      method: 'PATCH', pattern: new RegExp(`^/admin/apis/${AUDIENCE}$`), scope: 'admin:write',
      handler: async function updateApi(ctx, [raw], caller) {
        const audience = audienceOf(raw!);
        const body = (await readJson(ctx)) as Record<string, unknown> | undefined;
        if (body && typeof body === 'object' && 'audience' in body) {
          throw new InvalidRequest('audience: cannot change (it is in every token issued for the API): register another API and remove this one');
        }
        const { reason, ...change } = validate(updateApiBody, body);
        refuseConfigured(audience);
        await knownClients(change.introspectors);
        // Read, apply, write if nobody wrote in between; otherwise apply to what they wrote.
        for (let attempt = 0; attempt < 5; attempt++) {
          const before = await stored(audience);
          const after: ApiFields & { createdAt: number } = { ...pick(before), ...change, audience, createdAt: before.createdAt };
          const outcome = await store.update(before.rev, after);
          if (outcome.status === 'missing') throw new NotFound(`no API with audience "${audience}"`);
          if (outcome.status === 'changed') continue;
          const changed = EDITABLE.filter((key) => change[key] !== undefined);
          const result = await written(caller, 'update-api', `api:${audience}`, reason, undefined, {
            before: Object.fromEntries(changed.map((key) => [key, before[key]])),
            after: Object.fromEntries(changed.map((key) => [key, after[key]])),
          });
          await announce(audience);
          return { api: apiView(managedApi(outcome.api)), audit_id: result.audit_id };
        }
        throw new Conflict(`the API "${audience}" is being changed by other writes right now: try again`);
      },
    },
    {
      method: 'DELETE', pattern: new RegExp(`^/admin/apis/${AUDIENCE}$`), scope: 'admin:write',
      handler: async function deleteApi(ctx, [raw], caller) {
        const audience = audienceOf(raw!);
        const { reason } = validate(deleteApiBody, await deleteReason(ctx));
        refuseConfigured(audience);
        const before = await stored(audience);
        if (!(await store.delete(audience))) throw new NotFound(`no API with audience "${audience}"`);
        const result = await written(caller, 'delete-api', `api:${audience}`, reason, undefined, { api: pick(before) });
        await announce(audience);
        return { deleted: apiView(managedApi(before)), audit_id: result.audit_id };
      },
    },
  ];
}

function pick(api: StoredApi): ApiFields {
  const { audience, name, scopes, claims, introspectors, accessTokenTTL } = api;
  return { audience, name, scopes, claims, introspectors, accessTokenTTL };
}

/** The reason of a DELETE: its JSON body, else `?reason=`. */
async function deleteReason(ctx: Context): Promise<unknown> {
  const hasBody = Number(ctx.get('content-length') || 0) > 0 || ctx.get('transfer-encoding') !== '';
  if (hasBody) return readJson(ctx);
  return typeof ctx.query.reason === 'string' ? { reason: ctx.query.reason } : {};
}
