import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { openRedis } from '../../adapters/redis/connect.js';
import type { LatchFileConfig } from '../../src/config/schema.js';
import { createLatch, type Latch } from '../../src/http/app.js';
import { createLogger } from '../../src/log/logger.js';
import type { TestLatch } from './latch-server.js';
import { testConfig } from './test-config.js';

export interface RsTestLatch extends TestLatch {
  /** How many introspection requests Latch has served so far. */
  introspections(): number;
  /** Stops answering (connections refused) until start() again, on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** startLatch() with another file config (see rs-config.ts); also counts introspections. */
export async function startLatchWith(redisUrl: string, file: LatchFileConfig): Promise<RsTestLatch> {
  let server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const config = { ...(await testConfig(url, redisUrl)), file };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = createLogger('debug', sink);
  const redis = await openRedis(redisUrl, { commandTimeoutMs: 1000 });
  const latch = createLatch(config, redis, logger);
  await latch.accounts.seed(config.file.accounts);
  let introspections = 0;
  const listener: Latch['callback'] = (req, res) => {
    if (req.method === 'POST' && req.url?.split('?')[0] === '/introspect') introspections++;
    latch.callback(req, res);
  };
  server.on('request', listener);

  async function stop() {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  return {
    ...latch,
    url,
    config,
    redis,
    logs,
    introspections: () => introspections,
    stop,
    async start() {
      server = createServer(listener);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    async close() {
      if (server.listening) await stop();
      redis.disconnect();
    },
  };
}
