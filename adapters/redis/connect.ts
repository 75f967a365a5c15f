import { Redis, type RedisOptions } from 'ioredis';

export interface ConnectOptions {
  /** Bound on any single command; past it the request fails closed with 503. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/**
 * A Redis client tuned to fail fast: no offline queue (a command while disconnected fails at once
 * instead of waiting for a reconnect), a per-command timeout, and endless background reconnects so
 * the server recovers by itself when Redis comes back.
 */
export function connectRedis(url: string, options: ConnectOptions = {}): Redis {
  const settings: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 5), 1000),
  };
  return new Redis(url, settings);
}

/**
 * Connects and waits until the client is ready (commands are refused before that), retrying in the
 * background for up to `startupTimeoutMs` (Redis may still be starting next to us), then gives up.
 */
export async function openRedis(url: string, options: ConnectOptions & { startupTimeoutMs?: number } = {}): Promise<Redis> {
  const redis = connectRedis(url, options);
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
