import type { Context, Next } from 'koa';

/**
 * `/healthz` on the public listener: the process answers (no Redis call, nothing revealed).
 * Readiness and metrics are served by the operations listener only (ops-server.ts).
 */
export function health() {
  return async function healthCheck(ctx: Context, next: Next) {
    if (ctx.path === '/healthz') {
      ctx.body = { status: 'ok' };
      return;
    }
    await next();
  };
}
