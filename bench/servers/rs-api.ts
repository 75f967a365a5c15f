import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import Koa, { type Context, type Middleware, type Next } from 'koa';
import { importJWK, jwtVerify, type JWK } from 'jose';
import { listenAndReport, serverOptions } from './serve.js';

interface Options {
  mode: 'introspect' | 'cached' | 'jwt';
  issuer: string;
  audience: string;
  scope: string;
  introspector: [string, string];
  redisUrl: string;
  publicJwk: JWK;
  /** Compiled latch/resource-server and examples/koa-api/app (bench/lib/dependencies.ts). */
  resourceServerModule: string;
  exampleAppModule: string;
}

/** The slice of KoaResourceServer an example API uses. */
interface TokenCheck {
  authenticate: Middleware;
  requireScopes(...scopes: string[]): Middleware;
  requireAnyScope(...scopes: string[]): Middleware;
  requireRole(...roles: string[]): Middleware;
  close(): Promise<void>;
}

interface ResourceServerModule {
  koaResourceServer(options: unknown): TokenCheck;
}

interface ExampleAppModule {
  createOrdersApi(api: TokenCheck): Koa;
}

const options = serverOptions<Options>();

/**
 * Local RS256 JWT verification with jose, shaped like latch/resource-server's Koa adapter (same
 * `ctx.state.auth`), so the very same example app runs on self-contained tokens.
 */
async function jwtTokenCheck(): Promise<TokenCheck> {
  const key = await importJWK(options.publicJwk, 'RS256');
  const scopesOf = (ctx: Context): string[] => ((ctx.state.auth as { scopes?: string[] } | undefined)?.scopes ?? []) as string[];
  const guard = (ok: (scopes: string[], ctx: Context) => boolean): Middleware => async (ctx: Context, next: Next) => {
    if (!ok(scopesOf(ctx), ctx)) {
      ctx.status = 403;
      ctx.set('www-authenticate', 'Bearer error="insufficient_scope"');
      return;
    }
    await next();
  };
  return {
    async authenticate(ctx: Context, next: Next) {
      const match = /^Bearer (.+)$/.exec(ctx.get('authorization'));
      try {
        if (!match) throw new Error('no token');
        const { payload } = await jwtVerify(match[1]!, key, { issuer: options.issuer, audience: options.audience, algorithms: ['RS256'] });
        const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
        (ctx.state as Record<string, unknown>).auth = Object.freeze({
          sub: payload.sub,
          clientId: String(payload.client_id),
          scopes: String(payload.scope ?? '').split(' ').filter(Boolean),
          roles: Array.isArray(payload.roles) ? payload.roles : [],
          aud,
          exp: payload.exp,
          claims: Object.freeze({ active: true, ...payload }),
        });
      } catch {
        ctx.status = 401;
        ctx.set('www-authenticate', 'Bearer error="invalid_token"');
        return;
      }
      await next();
    },
    requireScopes: (...scopes) => guard((have) => scopes.every((s) => have.includes(s))),
    requireAnyScope: (...scopes) => guard((have) => scopes.some((s) => have.includes(s))),
    requireRole: (...roles) =>
      guard((_have, ctx) => roles.some((r) => ((ctx.state.auth as { roles?: string[] } | undefined)?.roles ?? []).includes(r))),
    close: async () => {},
  };
}

/** Without examples/koa-api: one route, `GET /orders` with orders:read, answering the caller. */
function minimalApi(check: TokenCheck): Koa {
  const app = new Koa();
  app.use(check.authenticate);
  app.use(check.requireScopes(options.scope));
  app.use((ctx) => {
    const auth = ctx.state.auth as { sub?: string; clientId?: string } | undefined;
    ctx.body = { orders: [], sub: auth?.sub, client_id: auth?.clientId };
  });
  return app;
}

let check: TokenCheck;
if (options.mode === 'jwt') {
  check = await jwtTokenCheck();
} else {
  const { koaResourceServer } = (await import(pathToFileURL(options.resourceServerModule).href)) as ResourceServerModule;
  check = koaResourceServer({
    issuer: options.issuer,
    audience: options.audience,
    client: { clientId: options.introspector[0], clientSecret: options.introspector[1] },
    cache: options.mode === 'cached' ? { maxTtlSeconds: 300, revocationEvents: { redisUrl: options.redisUrl } } : false,
    // DPoP is accepted (the default); proofs may be 10 minutes old so that the DPoP scenario's
    // pool, signed before its run, lasts the run. The checks made per proof are the same.
    dpop: { maxAgeSeconds: 600 },
  });
}
const app = existsSync(options.exampleAppModule)
  ? ((await import(pathToFileURL(options.exampleAppModule).href)) as ExampleAppModule).createOrdersApi(check)
  : minimalApi(check);

await listenAndReport(createServer(app.callback()), undefined, () => check.close());
