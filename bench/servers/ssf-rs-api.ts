import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import Koa, { type Middleware } from 'koa';
import { listenAndReport, serverOptions } from './serve.js';

interface Options {
  delivery: 'push' | 'poll';
  issuer: string;
  audience: string;
  scope: string;
  introspector: [string, string];
  resourceServerModule: string;
  exampleAppModule: string;
}

interface TokenCheck {
  authenticate: Middleware;
  securityEvents: Middleware;
  requireScopes(...scopes: string[]): Middleware;
  resourceServer: { ready(): Promise<void> };
  close(): Promise<void>;
}

const options = serverOptions<Options>();
const { koaResourceServer } = (await import(pathToFileURL(options.resourceServerModule).href)) as { koaResourceServer(o: unknown): TokenCheck };

/**
 * The example API with latch/resource-server's cache fed by a Shared Signals stream (push to
 * this process's `securityEvents` endpoint, or poll) instead of Latch's Redis: the bench's
 * `ssf` scenario measures how soon it refuses a revoked token. Reports ready once the stream is
 * verified (the cache is live).
 */
let check: TokenCheck | undefined;
const server = createServer((req, res) => handler(req, res));
let handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void = (_req, res) => res.writeHead(503).end();

await listenAndReport(
  server,
  async (url) => {
    check = koaResourceServer({
      issuer: options.issuer,
      audience: options.audience,
      client: { clientId: options.introspector[0], clientSecret: options.introspector[1] },
      cache: { maxTtlSeconds: 300, revocationEvents: { ssf: { delivery: options.delivery, endpointUrl: options.delivery === 'push' ? `${url}/ssf-events` : undefined, heartbeatMs: 2000, maxLagMs: 10_000 } } },
    });
    const app = new Koa();
    app.use(check.securityEvents);
    if (existsSync(options.exampleAppModule)) {
      const { createOrdersApi } = (await import(pathToFileURL(options.exampleAppModule).href)) as { createOrdersApi(api: TokenCheck): Koa };
      const orders = createOrdersApi(check).callback();
      app.use((ctx) => {
        ctx.respond = false;
        orders(ctx.req, ctx.res);
      });
    } else {
      app.use(check.authenticate);
      app.use(check.requireScopes(options.scope));
      app.use((ctx) => {
        ctx.body = { orders: [] };
      });
    }
    handler = app.callback();
    await check.resourceServer.ready();
  },
  () => check?.close() ?? Promise.resolve(),
);
