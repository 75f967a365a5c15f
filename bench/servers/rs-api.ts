import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import Koa, { type Middleware } from 'koa';
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
  /** Path of the compiled latch/resource-server module (bench/lib/dependencies.ts). */
  resourceServerModule: string;
}

/** The slice of latch/resource-server this API uses (loaded at run time: it may not have landed). */
interface KoaResourceServerModule {
  koaResourceServer(options: unknown): { authenticate: Middleware; requireScopes(...scopes: string[]): Middleware; close(): Promise<void> };
}

/**
 * An example API: `GET /orders` needs `orders:read`. Three ways to check the bearer token, one
 * route: introspect every call (latch/resource-server, no cache), introspect with the
 * revocation-aware cache, or verify a self-contained RS256 JWT locally with jose.
 */
const options = serverOptions<Options>();
const app = new Koa();
let close = async () => {};

if (options.mode === 'jwt') {
  const key = await importJWK(options.publicJwk, 'RS256');
  app.use(async (ctx, next) => {
    const match = /^Bearer (.+)$/.exec(ctx.get('authorization'));
    try {
      if (!match) throw new Error('no token');
      const { payload } = await jwtVerify(match[1]!, key, { issuer: options.issuer, audience: options.audience, algorithms: ['RS256'] });
      if (!String(payload.scope ?? '').split(' ').includes(options.scope)) {
        ctx.status = 403;
        return;
      }
      ctx.state.jwtClaims = { sub: payload.sub, clientId: String(payload.client_id) };
    } catch {
      ctx.status = 401;
      ctx.set('www-authenticate', 'Bearer error="invalid_token"');
      return;
    }
    await next();
  });
} else {
  const { koaResourceServer } = (await import(pathToFileURL(options.resourceServerModule).href)) as KoaResourceServerModule;
  const api = koaResourceServer({
    issuer: options.issuer,
    audience: options.audience,
    client: { clientId: options.introspector[0], clientSecret: options.introspector[1] },
    cache: options.mode === 'cached' ? { maxTtlSeconds: 300, revocationEvents: { redisUrl: options.redisUrl } } : false,
  });
  app.use(api.authenticate);
  app.use(api.requireScopes(options.scope));
  close = () => api.close();
}

app.use((ctx) => {
  const auth = (ctx.state.auth ?? ctx.state.jwtClaims) as { sub?: string; clientId?: string } | undefined;
  ctx.body = { orders: [], sub: auth?.sub, client_id: auth?.clientId };
});

await listenAndReport(createServer(app.callback()), undefined, close);
