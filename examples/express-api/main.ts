import { createServer } from 'node:http';
import { expressResourceServer } from 'latch/resource-server';
import { createOrdersApi } from './app.js';
import { optionsFromEnv } from './config.js';

/** `npm run example:express-api` */
const port = Number(process.env.PORT ?? 4002);
const api = expressResourceServer(optionsFromEnv(process.env));
const server = createServer(createOrdersApi(api));
server.listen(port, () => process.stdout.write(`orders API (Express) on http://localhost:${port}\n`));
const stop = () => server.close(() => void api.close());
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
