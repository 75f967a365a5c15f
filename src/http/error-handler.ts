import type { Context, Next } from 'koa';
import { OAuthError } from '../errors/oauth-error.js';
import { errorPage } from '../interactions/views.js';
import type { Logger } from '../log/logger.js';

function render(ctx: Context, status: number, body: { error: string; error_description: string }) {
  ctx.status = status;
  if (ctx.accepts('json', 'html') === 'html') {
    ctx.type = 'html';
    ctx.body = errorPage(body.error, body.error_description);
  } else {
    ctx.body = body;
  }
}

/**
 * The one error handler for Latch's own routes (oidc-provider renders errors of its routes itself,
 * in the same shape). OAuth errors are shown as they are; anything unexpected is logged with the
 * request id and answered with a generic 500 that reveals nothing.
 */
export function errorHandler(logger: Logger) {
  return async function handleErrors(ctx: Context, next: Next) {
    try {
      await next();
    } catch (err) {
      if (err instanceof OAuthError) {
        if (err.status >= 500) logger.warn({ reqId: ctx.state.requestId, error: err.error, cause: String((err.cause as Error)?.message ?? '') }, 'request failed');
        if (err.status === 401) ctx.set('www-authenticate', 'Basic realm="latch"');
        return render(ctx, err.status, err.toJSON());
      }
      logger.error({ reqId: ctx.state.requestId, err: { name: (err as Error).name, message: (err as Error).message, stack: (err as Error).stack } }, 'unexpected error');
      render(ctx, 500, { error: 'server_error', error_description: `unexpected error (request ${ctx.state.requestId})` });
    }
  };
}
