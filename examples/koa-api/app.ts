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

/** How recent a sign-in changing the delivery address needs (seconds; RFC 9470 step-up). */
export const ADDRESS_MAX_AGE_SECONDS = 300;

/** A delivery address from a JSON body, or a 400. */
function addressOf(body: Record<string, unknown>, ctx: Context): string {
  const { address } = body;
  if (typeof address !== 'string' || !address.trim() || address.length > 200) return ctx.throw(400, 'address must be a non-empty string (max 200)');
  return address.trim();
}

/**
 * The Orders API: every route but /healthz needs a valid Latch access token for this API.
 * GET /me any token · GET /orders orders:read · POST /orders orders:write · GET /address orders:read ·
 * PUT /address orders:write and a sign-in at most `addressMaxAgeSeconds` old (step-up) · GET /admin/orders role admin.
 */
export function createOrdersApi(api: KoaResourceServer, orders = new Orders(), addressMaxAgeSeconds = ADDRESS_MAX_AGE_SECONDS): Koa {
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
  app.use(route('GET', '/address', api.requireScopes('orders:read'), (ctx) => void (ctx.body = { address: orders.addressOf(ctx.state.auth!.sub ?? '') })));
  app.use(
    // Changing where orders go is sensitive: a recent sign-in, or 401 insufficient_user_authentication.
    route('PUT', '/address', api.requireScopes('orders:write'), api.requireAuthentication({ maxAgeSeconds: addressMaxAgeSeconds }), async (ctx) => {
      const address = addressOf(await readJson(ctx), ctx);
      ctx.body = { address: orders.setAddress(ctx.state.auth!.sub!, address) };
    }),
  );
  app.use(route('GET', '/admin/orders', api.requireRole('admin'), (ctx) => void (ctx.body = { orders: orders.all() })));
  return app;
}
