import type { Result } from 'ioredis';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import { RATE_ADD } from '../../adapters/redis/scripts.js';
import type { SharedCounters } from './rate-limiter.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    latchRateAdd(key: string, delta: number, ttlMs: number): Result<number, Context>;
  }
}

/**
 * The limiter's shared counters in Redis, named by keys.ts. Used only by the background sync, never
 * on a request's path, and outside `store.run()`: a failed sync is not a failed request (no 503,
 * no `latch_redis_errors_total`); the limiter logs it and retries.
 */
export function redisCounters(store: RedisStore): SharedCounters {
  const { redis, keys } = store;
  redis.defineCommand('latchRateAdd', { numberOfKeys: 1, lua: RATE_ADD });
  return {
    key: (family, id, window) => keys.rateLimit(family, id, window),
    add: (key, delta, ttlMs) => redis.latchRateAdd(key, delta, ttlMs),
  };
}
