import type { Context, Middleware, Next } from 'koa';
import type { AuthInfo } from './auth-info.js';
import type { BearerResponse } from './challenge.js';
import { claimCheck, requireAnyScope, requireRole, requireScopes, type Guard } from './guards.js';
import type { ResourceServerOptions } from './options.js';
import { ResourceServer } from './resource-server.js';

declare module 'koa' {
  interface DefaultState {
    /** Set by `authenticate` of latch/resource-server. */
    auth?: AuthInfo;
  }
}

export interface KoaResourceServer {
  /** Verifies the bearer token and sets `ctx.state.auth`, or answers 400/401/503 itself. */
  authenticate: Middleware;
  requireScopes(...scopes: string[]): Middleware;
  requireAnyScope(...scopes: string[]): Middleware;
  requireRole(...roles: string[]): Middleware;
  claimCheck(...args: Parameters<typeof claimCheck>): Middleware;
  /** Any Guard as a middleware. */
  guard(guard: Guard): Middleware;
  resourceServer: ResourceServer;
  close(): Promise<void>;
}

function respond(ctx: Context, response: BearerResponse): void {
  ctx.status = response.status;
  ctx.set(response.headers);
  // No error code → an empty body (RFC 6750 §3.1); `null` would make Koa answer 204.
  ctx.body = response.body ?? '';
}

/** Koa middleware over a ResourceServer (created from `options`, or shared with other adapters). */
export function koaResourceServer(options: ResourceServerOptions | ResourceServer): KoaResourceServer {
  const rs = options instanceof ResourceServer ? options : new ResourceServer(options);

  async function authenticate(ctx: Context, next: Next) {
    let auth: AuthInfo;
    try {
      auth = await rs.authenticate({ authorization: ctx.req.headersDistinct.authorization, url: ctx.url });
    } catch (err) {
      return respond(ctx, rs.challenge(err));
    }
    ctx.state.auth = auth;
    await next();
  }

  function guard(check: Guard): Middleware {
    return async function guarded(ctx: Context, next: Next) {
      const auth = ctx.state.auth;
      if (!auth) throw new Error(`${check.name}: the authenticate middleware must run first`);
      try {
        check(auth);
      } catch (err) {
        return respond(ctx, rs.challenge(err));
      }
      await next();
    };
  }

  return {
    authenticate,
    requireScopes: (...scopes) => guard(requireScopes(...scopes)),
    requireAnyScope: (...scopes) => guard(requireAnyScope(...scopes)),
    requireRole: (...roles) => guard(requireRole(...roles)),
    claimCheck: (...args) => guard(claimCheck(...args)),
    guard,
    resourceServer: rs,
    close: () => rs.close(),
  };
}
