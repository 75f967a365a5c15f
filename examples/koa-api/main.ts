import { createServer } from 'node:http';
import Koa from 'koa';
import { koaResourceServer } from 'latch/resource-server';
import { createOrdersApi } from './app.js';
import { optionsFromEnv } from './config.js';

/** `npm run example:koa-api` */
const port = Number(process.env.PORT ?? 4001);
const api = koaResourceServer(optionsFromEnv(process.env));
const orders = createOrdersApi(api).callback();
// The Shared Signals push endpoint (CACHE_EVENTS=ssf-push), answered before the API's routes.
const events = new Koa().use(api.securityEvents).use((ctx) => {
  ctx.respond = false;
  orders(ctx.req, ctx.res);
});
const server = createServer(events.callback());
server.listen(port, () => process.stdout.write(`orders API (Koa) on http://localhost:${port}\n`));
const stop = () => server.close(() => void api.close());
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
