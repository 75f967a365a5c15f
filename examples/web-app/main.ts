import { createServer } from 'node:http';
import { createWebApp } from './app.js';

/** `npm run example:web-app`. Defaults match config/demo.json's `demo-web` client. */
const port = Number(process.env.PORT ?? 3001);
const app = await createWebApp({
  issuer: process.env.LATCH_ISSUER ?? 'http://localhost:3000',
  clientId: process.env.CLIENT_ID ?? 'demo-web',
  clientSecret: process.env.CLIENT_SECRET ?? 'demo-web-secret-change-me-0123456789abcdef',
  appUrl: process.env.APP_URL ?? `http://localhost:${port}`,
  apiUrl: process.env.API_URL ?? 'http://localhost:4001',
  dpop: process.env.DPOP !== '0',
});
const server = createServer(app.callback());
server.listen(port, () => process.stdout.write(`demo web app on http://localhost:${port}\n`));
process.once('SIGINT', () => server.close());
process.once('SIGTERM', () => server.close());
