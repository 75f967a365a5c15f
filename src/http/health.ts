import type { Context, Next } from 'koa';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { LatchMetrics } from './metrics.js';

/**
 * `/healthz`: the process answers. `/readyz`: it can reach Redis, so it can serve. `/metrics`:
 * Prometheus text format (keep it on the private side: docs/operations.md).
 */
export function health(store: RedisStore, metrics: LatchMetrics) {
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
    if (ctx.path === '/metrics' && ctx.method === 'GET') {
      const body = await metrics.render().catch(() => undefined);
      if (body === undefined) {
        // With workers the primary sums them; when it cannot, the scrape fails visibly.
        ctx.status = 503;
        ctx.body = { status: 'metrics unavailable' };
        return;
      }
      ctx.type = metrics.registry.contentType;
      ctx.body = body;
      return;
    }
    await next();
  };
}
