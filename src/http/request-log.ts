import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from '../log/logger.js';
import { routeLabel } from '../provider/routes.js';
import type { LatchMetrics } from './metrics.js';

/** Long base64url path segments are ids (interaction uids, session ids): log them as `:id`. */
const ID_SEGMENT = /\/[A-Za-z0-9_-]{16,}(?=\/|$)/g;

export function loggablePath(path: string): string {
  return path.replace(ID_SEGMENT, '/:id');
}

/**
 * One log line per request: method, path (never the query string: it can carry codes, tokens,
 * login hints; ids in the path are masked), status and duration, under a request id that is also returned to the caller.
 */
export function requestLog(logger: Logger, metrics: LatchMetrics) {
  return async function logRequest(ctx: Context, next: Next) {
    const started = process.hrtime.bigint();
    const id = randomUUID();
    ctx.state.requestId = id;
    ctx.set('x-request-id', id);
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      metrics.observe(routeLabel(ctx), ctx.method, ctx.status, ms / 1000);
      const level = ctx.status >= 500 ? 'warn' : 'debug';
      logger[level]({ reqId: id, method: ctx.method, path: loggablePath(ctx.path), status: ctx.status, ms: Math.round(ms * 10) / 10 }, 'request');
    }
  };
}
