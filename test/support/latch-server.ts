import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import type { RedisClient } from '../../adapters/redis/connect.js';
import type { RedisTarget } from '../../src/config/redis-target.js';
import { openRedis } from '../../adapters/redis/connect.js';
import type { LatchConfig } from '../../src/config/load.js';
import type { LatchFileConfig } from '../../src/config/schema.js';
import type { MailSender } from '../../src/credentials/mail-sender.js';
import { createLatch, type Latch } from '../../src/http/app.js';
import { warnAtStartup } from '../../src/http/startup-checks.js';
import { createLogger } from '../../src/log/logger.js';
import { testConfig } from './test-config.js';

export interface TestLatch extends Latch {
  url: string;
  /** The operations listener (`/readyz`, `/metrics`), on its own loopback port. */
  opsUrl: string;
  config: LatchConfig;
  redis: RedisClient;
  /** Every log line Latch wrote, raw. */
  logs: string[];
  /** How many introspection requests Latch has served so far. */
  introspections(): number;
  /** Stops answering (connections refused) until start() again, on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Share another instance's configuration (issuer and keys). */
  config?: LatchConfig;
  /** Serve another config file than test-config.ts's. */
  file?: LatchFileConfig;
  trustedProxies?: number;
  /** Run with NODE_ENV=production's behaviour (over plain http here: as behind a TLS proxy). */
  production?: boolean;
  /** Plug in a mail sender for reset links (createLatch's option). */
  mailSender?: MailSender;
}

/**
 * Starts a real Latch on a free loopback port against `redisUrl` (a URL, or a cluster/sentinel target), with demo accounts seeded.
 * `config` lets a second instance share the first one's configuration (issuer and keys).
 */
export async function startLatch(redisUrl: RedisTarget | string, options: StartOptions = {}): Promise<TestLatch> {
  let server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const base = options.config ?? (await testConfig(url, redisUrl));
  const config: LatchConfig = {
    ...base,
    ...(options.file ? { file: options.file } : {}),
    ...(options.trustedProxies === undefined ? {} : { trustedProxies: options.trustedProxies }),
    ...(options.production === undefined ? {} : { production: options.production }),
  };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = createLogger('debug', sink);
  const redis = await openRedis(redisUrl, { commandTimeoutMs: config.redisCommandTimeoutMs });
  const latch = createLatch(config, redis, logger, { mailSender: options.mailSender });
  void warnAtStartup(config, redis, logger);
  await latch.accounts.seed(config.file.accounts);
  await latch.apis.ready();
  let introspections = 0;
  const listener: Latch['callback'] = (req, res) => {
    if (req.method === 'POST' && req.url?.split('?')[0] === '/introspect') introspections++;
    latch.callback(req, res);
  };
  server.on('request', listener);
  const ops = createServer(latch.ops);
  await new Promise<void>((resolve) => ops.listen(0, '127.0.0.1', resolve));
  const opsUrl = `http://127.0.0.1:${(ops.address() as { port: number }).port}`;

  async function stop() {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  return {
    ...latch,
    url,
    opsUrl,
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
      // As main.ts does at shutdown: long polls answered, delivery stopped, the wake-up connection closed.
      const signalsStopped = latch.ssf?.close();
      if (server.listening) await stop();
      await signalsStopped;
      ops.closeAllConnections();
      await new Promise<void>((resolve) => ops.close(() => resolve()));
      // Its subscription is a connection of its own, which retries while Redis is down: closed
      // here rather than left to the client's 'end'.
      latch.live.close();
      redis.disconnect();
    },
  };
}
