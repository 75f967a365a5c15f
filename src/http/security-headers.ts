import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Next } from 'koa';

/**
 * helmet with a strict CSP: no inline script or style, same-origin assets only, no framing.
 * `form-action` must also allow the origins of the clients' redirect and post-logout redirect URIs:
 * browsers apply it to the redirects that follow a form submission (consent → client callback,
 * logout confirmation → post-logout page). Read on every response: clients change at run time.
 */
export function securityHeaders(redirectOrigins: () => readonly string[]) {
  const handler = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'none'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'form-action': ["'self'", () => redirectOrigins().join(' ') || "'self'"],
        'frame-ancestors': ["'none'"],
        'base-uri': ["'none'"],
      },
    },
    // Pages are opened by redirects from other sites (the clients); keep cross-origin isolation off.
    crossOriginEmbedderPolicy: false,
    referrerPolicy: { policy: 'no-referrer' },
  });
  return async function applySecurityHeaders(ctx: Context, next: Next) {
    await new Promise<void>((resolve, reject) => {
      handler(ctx.req as IncomingMessage, ctx.res as ServerResponse, (err?: unknown) => (err ? reject(err) : resolve()));
    });
    await next();
  };
}
