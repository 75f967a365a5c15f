import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { AccountStore, Account } from '../accounts/account-store.js';
import type { RolePolicy } from '../accounts/role-policy.js';
import type { TravelGuard } from '../anomaly/impossible-travel.js';
import { InvalidRequest, OAuthError } from '../errors/oauth-error.js';
import { readJson } from '../http/request-body.js';
import type { Introspector } from '../introspection/introspect.js';
import type { LatchProofs } from '../dpop/latch-proofs.js';
import type { Logger } from '../log/logger.js';
import { refuse } from '../rate-limit/rate-limit.js';
import type { RateLimits } from '../rate-limit/rate-limits.js';
import type { RevocationResult, Revocations } from '../revocation/revocations.js';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { Credentials } from '../credentials/credentials.js';
import { accountAdminRoutes, accountView } from './account-admin-routes.js';
import { clientAdminRoutes } from './client-admin-routes.js';
import type { ClientService } from '../clients/client-service.js';
import type { InitialAccessTokens } from '../clients/initial-access-tokens.js';
import { apiAdminRoutes, type ApiAdminDependencies } from './api-admin-routes.js';
import type { AuditLog } from './audit-log.js';
import { authenticateAdmin, BearerError, type AdminCaller } from './bearer-auth.js';
import { openApiDocument } from './openapi.js';
import { Conflict, NotFound, SEGMENT, segment, validate, type Route } from './route-table.js';
import { auditQuery, reasonBody, rolesBody, tokenBody } from './schemas.js';

export interface AdminDependencies {
  provider: Provider;
  /** Clients managed at run time (src/clients/). */
  clients?: ClientService;
  /** Initial access tokens for dynamic client registration (when registration is on). */
  initialAccessTokens?: InitialAccessTokens;
  roles: RolePolicy;
  travel: TravelGuard;
  introspector: Introspector;
  revocations: Revocations;
  audit: AuditLog;
  accounts: AccountStore;
  /** Password changes, reset links and imports (accounts managed at run time). */
  credentials: Credentials;
  store: RedisStore;
  logger: Logger;
  /** Per-client budget of admin calls (the per-address one is checked before these routes). */
  rateLimits?: RateLimits;
  /** DPoP proofs of DPoP-bound admin tokens (without it, only Bearer is accepted). */
  proofs?: LatchProofs;
  /** Resource servers managed at run time (`/admin/apis`: api-admin-routes.ts). */
  apis: Omit<ApiAdminDependencies, 'written' | 'clientExists'> & { clientExists?: ApiAdminDependencies['clientExists'] };
}

/**
 * The admin API for security staff (docs/admin-api.md, OpenAPI at /admin/openapi.json).
 * Reads need `admin:read`, writes `admin:write`; every write is appended to the audit log.
 */
export function adminRoutes(deps: AdminDependencies) {
  const { provider, introspector, revocations, audit, accounts, logger, roles, travel, rateLimits, proofs } = deps;

  async function account(username: string): Promise<Account> {
    const name = segment(username);
    const found = await accounts.findByUsername(name);
    if (!found) throw new NotFound(`no account with username "${name}"`);
    return found;
  }

  async function clientName(clientId: string): Promise<string | undefined> {
    const client = await provider.Client.find(clientId);
    return client ? (client.clientName ?? clientId) : undefined;
  }

  async function written(caller: AdminCaller, action: string, target: string, reason: string, result: RevocationResult | undefined, detail?: Record<string, unknown>) {
    const entry = await audit.append({ actor: caller.clientId, action, target, reason, count: result?.tokens ?? 0, detail });
    logger.info({ actor: caller.clientId, action, target, audit: entry.id }, 'admin write');
    return { ...(result ?? {}), audit_id: entry.id };
  }

  const routes: Route[] = [
    {
      method: 'GET', pattern: new RegExp(`^/admin/accounts/${SEGMENT}$`), scope: 'admin:read',
      handler: async function showAccount(_ctx, [username]) {
        return accountView(await account(username!));
      },
    },
    {
      method: 'GET', pattern: new RegExp(`^/admin/accounts/${SEGMENT}/sessions$`), scope: 'admin:read',
      handler: async function listSessions(_ctx, [username]) {
        const { sub } = await account(username!);
        const devices = await revocations.devices(sub);
        return { sessions: await Promise.all(devices.map(async (d) => ({ ...d, client_name: await clientName(d.client_id) }))) };
      },
    },
    {
      method: 'GET', pattern: new RegExp(`^/admin/accounts/${SEGMENT}/logins$`), scope: 'admin:read',
      handler: async function listLogins(ctx, [username]) {
        const { sub } = await account(username!);
        const limit = validate(auditQuery.shape.limit, ctx.query.limit ?? 20);
        return { logins: await travel.history(sub, Math.min(limit, 50)) };
      },
    },
    {
      method: 'PUT', pattern: new RegExp(`^/admin/accounts/${SEGMENT}/roles$`), scope: 'admin:write',
      handler: async function setRoles(ctx, [username], caller) {
        const body = validate(rolesBody, await readJson(ctx));
        const unknown = body.roles.find((role) => !roles.has(role));
        if (unknown) throw new InvalidRequest(`roles: no role "${unknown}" in the configuration`);
        const { sub, username: name } = await account(username!);
        const previous = await accounts.setRoles(sub, body.roles);
        // Caches of introspection results hold the old roles and scope: tell them (docs/events.md).
        await revocations.announce('account-roles', { sub }, { actor: caller.clientId, reason: body.reason });
        const result = await written(caller, 'set-roles', `account:${name}`, body.reason, undefined, { before: previous, after: body.roles });
        return { roles: body.roles, previous, audit_id: result.audit_id };
      },
    },
    {
      method: 'POST', pattern: new RegExp(`^/admin/accounts/${SEGMENT}/delete$`), scope: 'admin:write',
      handler: async function deleteAccount(ctx, [username], caller) {
        const { reason } = validate(reasonBody, await readJson(ctx));
        const found = await account(username!);
        const result = await revocations.revokeAccount(found.sub, { actor: caller.clientId, reason });
        // Published before the record goes, while its email is still there for receivers that
        // follow the user by email (docs/events.md `account_purged`).
        await revocations.events.publish({ type: 'security', kind: 'account_purged', sub: found.sub, actor: caller.clientId, reason });
        await accounts.delete(found);
        return written(caller, 'delete-account', `account:${found.username}`, reason, result);
      },
    },
    {
      method: 'POST', pattern: new RegExp(`^/admin/accounts/${SEGMENT}/revoke$`), scope: 'admin:write',
      handler: async function revokeUser(ctx, [username], caller) {
        const { reason } = validate(reasonBody, await readJson(ctx));
        const { sub, username: name } = await account(username!);
        const result = await revocations.revokeAccount(sub, { actor: caller.clientId, reason });
        return written(caller, 'revoke-user', `account:${name}`, reason, result);
      },
    },
    {
      method: 'POST', pattern: new RegExp(`^/admin/accounts/${SEGMENT}/sessions/${SEGMENT}/revoke$`), scope: 'admin:write',
      handler: async function revokeSession(ctx, [username, id], caller) {
        const { reason } = validate(reasonBody, await readJson(ctx));
        const { sub, username: name } = await account(username!);
        const result = await revocations.revokeDevice(sub, id!, { actor: caller.clientId, reason });
        if (!result) throw new NotFound(`account "${name}" has no session "${id}"`);
        return written(caller, 'revoke-session', `account:${name}/session:${id}`, reason, result);
      },
    },
    {
      method: 'POST', pattern: new RegExp(`^/admin/accounts/${SEGMENT}/clients/${SEGMENT}/revoke$`), scope: 'admin:write',
      handler: async function revokeUserClient(ctx, [username, clientId], caller) {
        const { reason } = validate(reasonBody, await readJson(ctx));
        const { sub, username: name } = await account(username!);
        const id = segment(clientId!);
        if (!(await clientName(id))) throw new NotFound(`no client "${id}"`);
        const result = await revocations.revokeAccountClient(sub, id, { actor: caller.clientId, reason });
        return written(caller, 'revoke-user-client', `account:${name}/client:${id}`, reason, result);
      },
    },
    {
      method: 'POST', pattern: new RegExp(`^/admin/accounts/${SEGMENT}/disable$`), scope: 'admin:write',
      handler: async function disableAccount(ctx, [username], caller) {
        const { reason } = validate(reasonBody, await readJson(ctx));
        const { sub, username: name } = await account(username!);
        const result = await revocations.disableAccount(sub, { actor: caller.clientId, reason });
        return written(caller, 'disable-account', `account:${name}`, reason, result);
      },
    },
    {
      method: 'POST', pattern: new RegExp(`^/admin/accounts/${SEGMENT}/enable$`), scope: 'admin:write',
      handler: async function enableAccount(ctx, [username], caller) {
        const { reason } = validate(reasonBody, await readJson(ctx));
        const { sub, username: name } = await account(username!);
        await revocations.enableAccount(sub, { actor: caller.clientId, reason });
        return written(caller, 'enable-account', `account:${name}`, reason, undefined);
      },
    },
    {
      method: 'POST', pattern: new RegExp(`^/admin/clients/${SEGMENT}/revoke$`), scope: 'admin:write',
      handler: async function revokeClient(ctx, [clientId], caller) {
        const { reason } = validate(reasonBody, await readJson(ctx));
        const id = segment(clientId!);
        if (!(await clientName(id))) throw new NotFound(`no client "${id}"`);
        const result = await revocations.revokeClient(id, { actor: caller.clientId, reason });
        return written(caller, 'revoke-client', `client:${id}`, reason, result);
      },
    },
    {
      method: 'POST', pattern: /^\/admin\/tokens\/revoke$/, scope: 'admin:write',
      handler: async function revokeToken(ctx, _params, caller) {
        const { token, reason } = validate(tokenBody, await readJson(ctx));
        const result = await revocations.revokeToken(token, { actor: caller.clientId, reason });
        // Like RFC 7009: an unknown or already dead token is not an error (nothing to reveal).
        return written(caller, 'revoke-token', 'token', reason, result ?? { grants: 0, sessions: 0, tokens: 0 });
      },
    },
    {
      method: 'GET', pattern: /^\/admin\/audit$/, scope: 'admin:read',
      handler: async function readAudit(ctx) {
        const query = validate(auditQuery, { ...ctx.query });
        return { entries: await audit.read(query.after, query.limit) };
      },
    },
    {
      method: 'GET', pattern: new RegExp(`^/admin/jobs/${SEGMENT}$`), scope: 'admin:read',
      handler: async function showJob(_ctx, [id]) {
        const job = await revocations.job(id!);
        if (!job) throw new NotFound(`no job "${id}"`);
        return job;
      },
    },
  ];
  if (deps.clients) routes.push(...clientAdminRoutes({ clients: deps.clients, initialAccessTokens: deps.initialAccessTokens, written }));
  routes.push(...accountAdminRoutes({ store: deps.store, accounts, credentials: deps.credentials, roles, audit, logger, account, written }));
  // app.ts passes the client registry's lookup (config and managed clients); without one, oidc-provider's.
  const clientExists = deps.apis.clientExists ?? (async (id: string) => {
    try {
      return (await clientName(id)) !== undefined;
    } catch (err) {
      // A client oidc-provider finds but cannot load (its metadata names a scope no API has now) exists.
      if (err instanceof OAuthError) throw err;
      return true;
    }
  });
  routes.push(...apiAdminRoutes({ ...deps.apis, clientExists, written }));

  return async function admin(ctx: Context, next: Next) {
    if (!ctx.path.startsWith('/admin/') && ctx.path !== '/admin') return next();
    ctx.set('cache-control', 'no-store');
    if (ctx.path === '/admin/openapi.json' && ctx.method === 'GET') {
      ctx.body = openApiDocument;
      return;
    }
    const matches = routes.filter((r) => r.pattern.test(ctx.path));
    const route = matches.find((r) => r.method === ctx.method);
    try {
      if (!route) {
        if (matches.length) {
          ctx.status = 405;
          ctx.set('allow', matches.map((r) => r.method).join(', '));
          ctx.body = { error: 'invalid_request', error_description: `use ${matches.map((r) => r.method).join(' or ')}` };
        } else {
          throw new NotFound('no such admin endpoint (see /admin/openapi.json)');
        }
        return;
      }
      const caller = await authenticateAdmin(ctx, introspector, route.scope, proofs);
      const refusal = rateLimits?.admitClient('admin', caller.clientId);
      if (refusal) return refuse(ctx, refusal);
      const params = route.pattern.exec(ctx.path)!.slice(1);
      ctx.body = await route.handler(ctx, params, caller);
    } catch (err) {
      if (err instanceof BearerError) {
        ctx.set('www-authenticate', err.challenge);
        ctx.status = err.status;
        // RFC 6750 §3.1: a request without credentials gets no error code.
        ctx.body = err.challenge.includes('error=') ? err.toJSON() : { error_description: err.error_description };
        return;
      }
      if (err instanceof NotFound) {
        ctx.status = 404;
        ctx.body = { error: 'not_found', error_description: err.message };
        return;
      }
      if (err instanceof Conflict) {
        ctx.status = 409;
        ctx.body = { error: 'conflict', error_description: err.message };
        return;
      }
      if (err instanceof OAuthError) {
        ctx.status = err.status;
        ctx.body = err.toJSON();
        return;
      }
      throw err;
    }
  };
}
