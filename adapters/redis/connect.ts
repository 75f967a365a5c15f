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

/** Connects and waits until the client is ready (commands are refused before that). */
export async function openRedis(url: string, options: ConnectOptions = {}): Promise<Redis> {
  const redis = connectRedis(url, options);
  // Reconnects are logged by the caller through 'error'; an unhandled 'error' event would crash.
  redis.on('error', () => {});
  await redis.connect();
  return redis;
}
