import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { listenAndReport, serverOptions } from './serve.js';

/**
 * The limit: the least any introspection server must do. Reads the form body, does one Redis GET
 * keyed by the token, answers the stored JSON. No client authentication, no policy, no framework.
 */
const { redisUrl, keyPrefix } = serverOptions<{ redisUrl: string; keyPrefix: string }>();
const redis = new Redis(redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 0 });
const INACTIVE = '{"active":false}';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token') ?? '';
    redis.get(keyPrefix + token).then(
      (stored) => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(stored ?? INACTIVE);
      },
      () => {
        res.writeHead(503);
        res.end();
      },
    );
  });
});

await listenAndReport(server, undefined, async () => {
  redis.disconnect();
});
