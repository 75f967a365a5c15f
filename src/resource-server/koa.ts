import type { Context, Middleware, Next } from 'koa';
import type { AuthInfo } from './auth-info.js';
import type { BearerResponse } from './challenge.js';
import { frameworkAdapter, type FrameworkAdapter } from './framework-adapter.js';
import type { Guard } from './guards.js';
import type { ResourceServerOptions } from './options.js';
import { pushAnswer } from './push-endpoint.js';
import { ResourceServer, type Authenticated } from './resource-server.js';

declare module 'koa' {
  interface DefaultState {
    /** Set by `authenticate` of latch/resource-server. */
    auth?: AuthInfo;
  }
}

/** The adapter; its `authenticate` sets `ctx.state.auth`. */
export type KoaResourceServer = FrameworkAdapter<Middleware>;

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
    let passed: Authenticated;
    try {
      const headers = ctx.req.headersDistinct;
      passed = await rs.authenticateRequest({ authorization: headers.authorization, url: ctx.originalUrl, method: ctx.method, href: ctx.href, dpop: headers.dpop });
    } catch (err) {
      return respond(ctx, rs.challenge(err));
    }
    ctx.set(passed.headers);
    ctx.state.auth = passed.auth;
    await next();
  }

  function guard(check: Guard): Middleware {
    return async function guarded(ctx: Context, next: Next) {
      const auth = ctx.state.auth;
      if (!auth) throw new Error(`${check.name}: the authenticate middleware must run first`);
      try {
        check(auth);
      } catch (err) {
        return respond(ctx, rs.challenge(err, auth));
      }
      await next();
    };
  }

  async function securityEvents(ctx: Context, next: Next) {
    const answer = await pushAnswer(rs, ctx.req, ctx.path);
    if (!answer) return next();
    ctx.status = answer.status;
    ctx.set(answer.headers);
    ctx.body = answer.body;
  }

  return frameworkAdapter<Middleware>(rs, authenticate, guard, securityEvents);
}
