import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { openRedis } from '../../adapters/redis/connect.js';
import type { LatchConfig } from '../../src/config/load.js';
import { createLatch, type Latch, type LatchOptions } from '../../src/http/app.js';
import { createLogger } from '../../src/log/logger.js';
import { testConfig } from './test-config.js';

export interface TestLatch extends Latch {
  url: string;
  config: LatchConfig;
  redis: Redis;
  /** Every log line Latch wrote, raw. */
  logs: string[];
  close(): Promise<void>;
}

/**
 * Starts a real Latch on a free loopback port against `redisUrl`, with demo accounts seeded.
 * `config` lets a second instance share the first one's configuration (issuer and keys).
 */
export async function startLatch(
  redisUrl: string,
  options: LatchOptions & { config?: LatchConfig; trustedProxies?: number } = {},
): Promise<TestLatch> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const base = options.config ?? (await testConfig(url, redisUrl));
  const config = options.trustedProxies === undefined ? base : { ...base, trustedProxies: options.trustedProxies };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = createLogger('debug', sink);
  const redis = await openRedis(redisUrl, { commandTimeoutMs: 1000 });
  const latch = createLatch(config, redis, logger, options);
  await latch.accounts.seed(config.file.accounts);
  server.on('request', latch.callback);
  return {
    ...latch,
    url,
    config,
    redis,
    logs,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      redis.disconnect();
    },
  };
}
