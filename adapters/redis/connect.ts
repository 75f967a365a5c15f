import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../../src/config/redis-target.js';

/** Latch's Redis client: one server (possibly found through Sentinel) or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

export interface ConnectOptions {
  /** Bound on any single command; past it the request fails closed with 503. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** Reconnect delays: 100 ms doubling to 1 s, forever (Latch must recover without a restart). */
const backoff = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 5), 1000);

/**
 * A Redis client tuned to fail fast: no offline queue (a command while disconnected fails at once
 * instead of waiting for a reconnect), a per-command timeout, and endless background reconnects so
 * the server recovers by itself when Redis comes back. The same rules apply to every node of a
 * cluster and to the master a Sentinel names.
 */
export function connectRedis(target: RedisTarget | string, options: ConnectOptions = {}): RedisClient {
  const resolved: RedisTarget = typeof target === 'string' ? { kind: 'single', url: target } : target;
  const perNode: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    connectTimeout: options.connectTimeoutMs ?? 2000,
  };
  const node: RedisOptions = { ...perNode, lazyConnect: true, enableAutoPipelining: true, retryStrategy: backoff };
  if (resolved.kind === 'single') return new Redis(resolved.url, node);

  const auth: RedisOptions = {
    ...(resolved.username ? { username: resolved.username } : {}),
    ...(resolved.password ? { password: resolved.password } : {}),
    ...(resolved.tls ? { tls: {} } : {}),
  };
  if (resolved.kind === 'sentinel') {
    return new Redis({
      ...node,
      ...auth,
      sentinels: resolved.sentinels,
      name: resolved.name,
      role: 'master',
      ...(resolved.sentinelPassword ? { sentinelPassword: resolved.sentinelPassword } : {}),
      ...(resolved.tls ? { enableTLSForSentinelMode: true } : {}),
      // Follow a failover as soon as Sentinel announces it, not only after the old master fails;
      // and if a write still reaches the demoted master, reconnect to the one Sentinel names now.
      failoverDetector: true,
      reconnectOnError: (err) => err.message.startsWith('READONLY'),
      sentinelRetryStrategy: backoff,
    });
  }
  const cluster: ClusterOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    // Writes and reads go to primaries: a replica may not have seen a revocation yet.
    scaleReads: 'master',
    slotsRefreshTimeout: options.connectTimeoutMs ?? 2000,
    clusterRetryStrategy: backoff,
    redisOptions: { ...perNode, ...auth },
  };
  return new Cluster(resolved.nodes, cluster);
}

/**
 * Connects and waits until the client is ready (commands are refused before that), retrying in the
 * background for up to `startupTimeoutMs` (Redis may still be starting next to us), then gives up.
 */
export async function openRedis(
  target: RedisTarget | string,
  options: ConnectOptions & { startupTimeoutMs?: number } = {},
): Promise<RedisClient> {
  const redis = connectRedis(target, options);
  let lastError: Error | undefined;
  // Without a listener an 'error' event would crash the process; callers add their own logging.
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  redis.connect().catch(() => {});
  const timeoutMs = options.startupTimeoutMs ?? 15_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(lastError ?? new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return redis;
}
