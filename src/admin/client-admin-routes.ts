import { z } from 'zod';
import { ClientConflict, ClientNotFound, MAX_GRACE_SECONDS, type ClientService } from '../clients/client-service.js';
import { CLIENT_ID } from '../clients/client-rules.js';
import type { InitialAccessTokens } from '../clients/initial-access-tokens.js';
import { readJson } from '../http/request-body.js';
import type { RevocationResult } from '../revocation/revocations.js';
import type { AdminCaller } from './bearer-auth.js';
import { Conflict, NotFound, SEGMENT, segment, validate, type Route } from './route-table.js';
import { reasonBody } from './schemas.js';

export interface ClientAdminDependencies {
  clients: ClientService;
  initialAccessTokens?: InitialAccessTokens;
  /** admin-routes.ts's: audits a write and answers with its id. */
  written(caller: AdminCaller, action: string, target: string, reason: string, result: RevocationResult | undefined, detail?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

const rotateBody = z.strictObject({
  grace_seconds: z.number().int().min(0).max(MAX_GRACE_SECONDS, `must be at most ${MAX_GRACE_SECONDS} (30 days)`).default(0),
  reason: reasonBody.shape.reason,
});

/** Splits `reason` (and `client_id`) off a client write's body; the rest is client metadata. */
function split(body: unknown): { reason: string; clientId?: string; metadata: Record<string, unknown> } {
  const object = validate(z.record(z.string(), z.unknown()), body ?? {});
  const { reason, client_id: clientId, ...metadata } = object;
  const checked = validate(z.object({ reason: reasonBody.shape.reason, client_id: CLIENT_ID.optional() }), { reason, client_id: clientId });
  return { reason: checked.reason, ...(checked.client_id !== undefined ? { clientId: checked.client_id } : {}), metadata };
}

/** Renders the service's refusals as the admin API's 404 and 409. */
async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ClientNotFound) throw new NotFound(err.message);
    if (err instanceof ClientConflict) throw new Conflict(err.message);
    throw err;
  }
}

/**
 * Clients managed at run time (docs/clients.md): list, show, create, update, rotate the secret,
 * delete; initial access tokens for dynamic registration. Config clients are listed and shown
 * (`managed_by: "config"`) but read-only: a write is 409 `conflict`. A new secret is in the answer
 * once and nowhere else (Redis holds its keyed hash). Every write is audited without any secret.
 */
export function clientAdminRoutes({ clients, initialAccessTokens, written }: ClientAdminDependencies): Route[] {
  const routes: Route[] = [
    {
      method: 'GET', pattern: /^\/admin\/clients$/, scope: 'admin:read',
      handler: async function listClients() {
        return { clients: await clients.list() };
      },
    },
    {
      method: 'POST', pattern: /^\/admin\/clients$/, scope: 'admin:write',
      handler: async function createClient(ctx, _params, caller) {
        const { reason, clientId, metadata } = split(await readJson(ctx));
        const created = await mapped(() => clients.create(clientId, metadata));
        const { audit_id } = await written(caller, 'create-client', `client:${created.client.client_id}`, reason, undefined, { client: created.client });
        ctx.status = 201;
        return { ...created, audit_id };
      },
    },
    {
      method: 'GET', pattern: new RegExp(`^/admin/clients/${SEGMENT}$`), scope: 'admin:read',
      handler: async function showClient(_ctx, [clientId]) {
        return mapped(() => clients.show(segment(clientId!)));
      },
    },
    {
      method: 'PATCH', pattern: new RegExp(`^/admin/clients/${SEGMENT}$`), scope: 'admin:write',
      handler: async function updateClient(ctx, [clientId], caller) {
        const id = segment(clientId!);
        const { reason, clientId: renamed, metadata } = split(await readJson(ctx));
        if (renamed !== undefined && renamed !== id) throw new Conflict('client_id cannot change (create a new client)');
        const updated = await mapped(() => clients.update(id, metadata));
        const { audit_id } = await written(caller, 'update-client', `client:${id}`, reason, undefined, { changed: updated.changed, ...(updated.client_secret ? { secret: 'issued' } : {}) });
        return { ...updated, audit_id };
      },
    },
    {
      method: 'POST', pattern: new RegExp(`^/admin/clients/${SEGMENT}/rotate-secret$`), scope: 'admin:write',
      handler: async function rotateClientSecret(ctx, [clientId], caller) {
        const id = segment(clientId!);
        const body = validate(rotateBody, await readJson(ctx));
        const rotated = await mapped(() => clients.rotateSecret(id, body.grace_seconds));
        const previous = rotated.client.previous_secret_expires_at ?? null;
        const { audit_id } = await written(caller, 'rotate-client-secret', `client:${id}`, body.reason, undefined, { grace_seconds: body.grace_seconds, previous_secret_expires_at: previous });
        return { ...rotated, audit_id };
      },
    },
    {
      method: 'POST', pattern: new RegExp(`^/admin/clients/${SEGMENT}/delete$`), scope: 'admin:write',
      handler: async function deleteClient(ctx, [clientId], caller) {
        const id = segment(clientId!);
        const { reason } = validate(reasonBody, await readJson(ctx));
        const result = await mapped(() => clients.delete(id, { actor: caller.clientId, reason }));
        return { deleted: true, ...(await written(caller, 'delete-client', `client:${id}`, reason, result)) };
      },
    },
  ];
  if (initialAccessTokens) routes.push(...initialAccessTokens.routes(written));
  return routes;
}
