import Koa, { type Context, type Middleware, type Next } from 'koa';
import type { AuthInfo, KoaResourceServer } from 'latch/resource-server';
import { Orders } from './orders.js';

/** A tiny route table: `route('GET', '/orders', guard, handler)`, each middleware named in traces. */
function route(method: string, path: string, ...stack: Middleware[]): Middleware {
  return async function routed(ctx: Context, next: Next) {
    if (ctx.path !== path || ctx.method !== method) return next();
    const run = (i: number): Promise<void> => Promise.resolve(stack[i]?.(ctx, () => run(i + 1)));
    await run(0);
  };
}

async function readJson(ctx: Context): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of ctx.req) {
    text += String(chunk);
    if (text.length > 16_384) ctx.throw(413, 'body too large');
  }
  try {
    const body = JSON.parse(text || '{}');
    return typeof body === 'object' && body !== null ? body : {};
  } catch {
    return ctx.throw(400, 'body must be JSON');
  }
}

/** What this token may do right now: Latch is asked on every call, so this is live. */
export const permissions = (auth: AuthInfo) => ({
  sub: auth.sub ?? null,
  username: typeof auth.claims.preferred_username === 'string' ? auth.claims.preferred_username : null,
  clientId: auth.clientId,
  scopes: auth.scopes,
  roles: auth.roles,
  expiresAt: auth.exp ? new Date(auth.exp * 1000).toISOString() : null,
});

/**
 * The Orders API: every route but /healthz needs a valid Latch access token for this API.
 * GET /me any token · GET /orders orders:read · POST /orders orders:write · GET /admin/orders role admin.
 */
export function createOrdersApi(api: KoaResourceServer, orders = new Orders()): Koa {
  const app = new Koa();
  app.use(route('GET', '/healthz', (ctx) => void (ctx.body = { ok: true })));
  app.use(api.authenticate);
  app.use(route('GET', '/me', (ctx) => void (ctx.body = permissions(ctx.state.auth!))));
  app.use(
    route('GET', '/orders', api.requireScopes('orders:read'), (ctx) => {
      const { sub } = ctx.state.auth!;
      ctx.body = { orders: sub ? orders.of(sub) : orders.all(), permissions: permissions(ctx.state.auth!) };
    }),
  );
  app.use(
    route('POST', '/orders', api.requireScopes('orders:write'), async (ctx) => {
      const { sub } = ctx.state.auth!;
      const { item } = await readJson(ctx);
      if (!sub) return ctx.throw(403, 'only users place orders');
      if (typeof item !== 'string' || !item.trim() || item.length > 100) return ctx.throw(400, 'item must be a non-empty string (max 100)');
      ctx.status = 201;
      ctx.body = orders.place(sub, item.trim());
    }),
  );
  app.use(route('GET', '/admin/orders', api.requireRole('admin'), (ctx) => void (ctx.body = { orders: orders.all() })));
  return app;
}
