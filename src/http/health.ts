import type { Context, Next } from 'koa';
import type { RedisStore } from '../../adapters/redis/redis-store.js';

/** `/healthz`: the process answers. `/readyz`: it can reach Redis, so it can serve. */
export function health(store: RedisStore) {
  return async function healthChecks(ctx: Context, next: Next) {
    if (ctx.path === '/healthz') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path === '/readyz') {
      const ready = await store.ping();
      ctx.status = ready ? 200 : 503;
      ctx.body = { status: ready ? 'ready' : 'redis unreachable' };
      return;
    }
    await next();
  };
}
