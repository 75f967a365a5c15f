import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import parseUrl from 'parseurl';
import { resolveRoute, type ResolvedRoute } from '../provider/routes.js';

const resolved = new WeakMap<IncomingMessage, ResolvedRoute | null>();

/**
 * The route of a raw request, resolved once (and remembered for the request): its path is taken
 * exactly as Koa's `ctx.path` takes it (parseurl: absolute-form targets like `POST http://host/Token`
 * included; parseurl caches its parse on the request, so Koa reuses it).
 */
export function requestRoute(req: IncomingMessage): ResolvedRoute | undefined {
  let route = resolved.get(req);
  if (route === undefined) {
    route = resolveRoute(parseUrl(req)?.pathname ?? '') ?? null;
    resolved.set(req, route);
  }
  return route ?? undefined;
}

/**
 * The one gate in front of every route: a variant of a route's path (another case, a trailing
 * slash) is answered 404 naming the canonical path, so no route answers it and no safeguard keyed
 * on the route can be skipped by spelling the path differently. A GET page variant gets the same
 * 404 rather than a redirect: a redirect would still be an answer for a path nothing documents.
 */
export async function canonicalRoute(ctx: Context, next: Next) {
  const route = requestRoute(ctx.req);
  if (route && !route.exact) {
    ctx.status = 404;
    ctx.set('cache-control', 'no-store');
    ctx.body = {
      error: 'invalid_request',
      error_description: `no endpoint at this path; the ${route.name.replace(/_/g, ' ')} endpoint is ${route.path} (paths are case-sensitive, without a trailing slash)`,
    };
    return;
  }
  ctx.state.route = route;
  return next();
}
