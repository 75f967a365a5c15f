import { createServer } from 'node:http';
import { openRedis } from '../adapters/redis/connect.js';
import { loadConfig } from './config/load.js';
import { ConfigError } from './config/config-error.js';
import { describeTarget } from './config/redis-target.js';
import { createLatch } from './http/app.js';
import { gracefulStop } from './http/graceful-shutdown.js';
import { startOps } from './http/ops-server.js';
import { createLogger } from './log/logger.js';

/** `npm start`: load and validate config, connect to Redis, seed demo accounts, serve. */
async function main(): Promise<void> {
  const config = await loadConfig();
  const logger = createLogger(config.logLevel);
  if (config.secrets.generated) {
    logger.warn(
      'DEVELOPMENT KEYS: signing, cookie and token-hashing keys were generated and stored in .latch/dev-keys.json. ' +
        'Never use them in production: set LATCH_JWKS, LATCH_COOKIE_KEYS and LATCH_TOKEN_HASH_KEY (NODE_ENV=production requires them).',
    );
  }
  const redis = await openRedis(config.redis, { startupTimeoutMs: config.redisStartupTimeoutMs, commandTimeoutMs: config.redisCommandTimeoutMs }).catch((err: Error) => {
    const field = { single: 'REDIS_URL', cluster: 'REDIS_CLUSTER_NODES', sentinel: 'REDIS_SENTINELS' }[config.redis.kind];
    throw new ConfigError(field, `cannot connect to ${describeTarget(config.redis)}: ${err.message}`);
  });
  let lastRedisError = 0;
  redis.on('error', (err) => {
    if (Date.now() - lastRedisError > 5000) logger.warn({ err: err.message }, 'redis error');
    lastRedisError = Date.now();
  });

  const latch = createLatch(config, redis, logger);
  const created = await latch.accounts.seed(config.file.accounts);
  if (created) logger.info({ created }, 'seeded accounts from config');

  const server = createServer(latch.callback);
  const stop = gracefulStop(server);
  const ops = await startOps(config, latch.ops);
  server.listen(config.port, () => {
    logger.info({ issuer: config.issuer, port: config.port, ops: ops ? `${config.opsHost}:${config.opsPort}` : 'off', config: config.configFile }, 'latch listening');
  });

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    ops?.close();
    ops?.closeAllConnections();
    stop().then(() => redis.quit()).finally(() => process.exit(0));
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? `latch: invalid configuration: ${err.message}` : `latch: failed to start: ${(err as Error).stack ?? String(err)}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
