import cluster from 'node:cluster';
import { createServer, type Server } from 'node:http';
import { openRedis, type RedisClient } from '../adapters/redis/connect.js';
import { RedisStore } from '../adapters/redis/redis-store.js';
import { AccountStore } from './accounts/account-store.js';
import { workerMetrics } from './cluster/cluster-metrics.js';
import { runWorkers, WORKER_SLOT } from './cluster/workers.js';
import { loadConfig, type LatchConfig } from './config/load.js';
import { ConfigError } from './config/config-error.js';
import { describeTarget } from './config/redis-target.js';
import { loadMailSender } from './credentials/load-mail-sender.js';
import { developmentRedis, type DevRedis } from './dev-redis/dev-redis.js';
import { createLatch } from './http/app.js';
import { gracefulStop } from './http/graceful-shutdown.js';
import { startOps } from './http/ops-server.js';
import { warnAtStartup } from './http/startup-checks.js';
import { createLogger, type Logger } from './log/logger.js';

/**
 * `npm start`: load and validate config, find Redis (in development, start one), seed demo
 * accounts, serve — in this process, or with LATCH_WORKERS > 1 in that many workers
 * (src/cluster/workers.ts), each of which runs `serve` below.
 */
async function main(): Promise<void> {
  // Ctrl-C reaches the whole process group; a worker leaves it to the primary, which sends SIGTERM.
  if (cluster.isWorker) process.on('SIGINT', () => {});
  const config = await loadConfig();
  if (cluster.isWorker) {
    const logger = createLogger(config.logLevel).child({ worker: Number(process.env[WORKER_SLOT]) });
    return serve(config, await connect(config, logger), logger, async () => {});
  }

  const logger = createLogger(config.logLevel);
  // Before any worker starts: a mail sender that does not load is a configuration error, once.
  if (config.mailSender) await loadMailSender(config.mailSender);
  if (config.secrets.generated) {
    logger.warn(
      'DEVELOPMENT KEYS: signing, cookie, token-hashing and DPoP nonce keys were generated and stored in .latch/dev-keys.json. ' +
        'Never use them in production: set LATCH_JWKS, LATCH_COOKIE_KEYS, LATCH_TOKEN_HASH_KEY and LATCH_DPOP_NONCE_SECRET (NODE_ENV=production requires them).',
    );
  }
  const devRedis = config.devRedis
    ? await developmentRedis({ ...config.devRedis, startupTimeoutMs: config.redisStartupTimeoutMs, path: process.env.PATH }, logger)
    : undefined;
  const running: LatchConfig = devRedis ? { ...config, redis: { kind: 'single', url: devRedis.url } } : config;
  const redis = await connect(running, logger);
  await warnAtStartup(config, redis, logger);
  const created = await new AccountStore(new RedisStore(redis, config.secrets.tokenHashKey)).seed(config.file.accounts);
  if (created) logger.info({ created }, 'seeded accounts from config');

  if (config.workers === 1) return serve(running, redis, logger, stopDevRedis(devRedis));
  await redis.quit();
  runWorkers({ count: config.workers, env: devRedis ? { REDIS_URL: devRedis.url } : {}, logger, onStopped: stopDevRedis(devRedis) });
}

async function connect(config: LatchConfig, logger: Logger): Promise<RedisClient> {
  const redis = await openRedis(config.redis, { startupTimeoutMs: config.redisStartupTimeoutMs, commandTimeoutMs: config.redisCommandTimeoutMs }).catch((err: Error) => {
    const field = { single: 'REDIS_URL', cluster: 'REDIS_CLUSTER_NODES', sentinel: 'REDIS_SENTINELS' }[config.redis.kind];
    throw new ConfigError(field, `cannot connect to ${describeTarget(config.redis)}: ${err.message}`);
  });
  let lastRedisError = 0;
  redis.on('error', (err) => {
    if (Date.now() - lastRedisError > 5000) logger.warn({ err: err.message }, 'redis error');
    lastRedisError = Date.now();
  });
  return redis;
}

const stopDevRedis = (devRedis: DevRedis | undefined) => async () => devRedis?.stop();

/** Listens on PORT; a port already taken is a configuration error, not a stack trace. */
function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new ConfigError('PORT', `${port} is already in use (another Latch?); stop it or set PORT`) : err);
    });
    server.listen(port, () => resolve());
  });
}

/** Serves until SIGTERM or SIGINT, then drains, closes Redis, runs `onStopped` and exits 0. */
async function serve(config: LatchConfig, redis: RedisClient, logger: Logger, onStopped: () => Promise<void>): Promise<void> {
  const latch = createLatch(config, redis, logger, { mailSender: config.mailSender ? await loadMailSender(config.mailSender) : undefined });
  if (cluster.isWorker) latch.metrics.render = workerMetrics(latch.metrics.registry);
  // The APIs registered at run time are in the table before the first request (read again on every change).
  await latch.apis.ready();
  const server = createServer(latch.callback);
  const stop = gracefulStop(server);
  await listen(server, config.port);
  // With workers, node:cluster shares the ops port too; /metrics sums every worker (cluster-metrics.ts).
  const ops = await startOps(config, latch.ops);
  logger.info({ issuer: config.issuer, port: config.port, ops: ops ? `${config.opsHost}:${config.opsPort}` : 'off', config: config.configFile }, 'latch listening');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    ops?.close();
    ops?.closeAllConnections();
    // Shared Signals long polls answer now (no SETs) rather than hold the drain for their wait
    // bound; pushes under way finish before Redis closes.
    const signalsStopped = latch.ssf?.close();
    stop()
      .then(() => signalsStopped)
      // Deliveries under way finish (or are taken over later by another process): nothing queued is lost.
      .then(() => latch.backchannel.stop())
      // Its own subscribed connection retries while Redis is down: closed here, not left to 'end'.
      .then(() => latch.live.close())
      .then(() => redis.quit())
      .catch(() => {})
      .then(onStopped)
      .finally(() => process.exit(0));
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  if (!cluster.isWorker) process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? `latch: invalid configuration: ${err.message}` : `latch: failed to start: ${(err as Error).stack ?? String(err)}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
