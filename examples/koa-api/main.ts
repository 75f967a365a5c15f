import { createServer } from 'node:http';
import { koaResourceServer } from 'latch/resource-server';
import { createOrdersApi } from './app.js';
import { optionsFromEnv } from './config.js';

/** `npm run example:koa-api` */
const port = Number(process.env.PORT ?? 4001);
const api = koaResourceServer(optionsFromEnv(process.env));
const server = createServer(createOrdersApi(api).callback());
server.listen(port, () => process.stdout.write(`orders API (Koa) on http://localhost:${port}\n`));
const stop = () => server.close(() => void api.close());
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
