import type { Redis } from 'ioredis';
import { TemporarilyUnavailable } from '../../src/errors/oauth-error.js';
import { RedisKeys } from './keys.js';
import { IdCipher } from './id-cipher.js';

/**
 * The narrow storage facade shared by the oidc-provider adapter and Latch's own modules
 * (accounts, introspection, revocation). It owns the Redis client, the key builder and the rule
 * that every Redis failure becomes a 503 `temporarily_unavailable` (fail closed).
 */
export class RedisStore {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  readonly cipher: IdCipher;

  constructor(redis: Redis, tokenHashKey: Buffer, prefix?: string) {
    this.redis = redis;
    this.keys = new RedisKeys(tokenHashKey, prefix);
    this.cipher = new IdCipher(tokenHashKey);
  }

  /** Runs a Redis operation; any failure (down, timeout, refused) surfaces as TemporarilyUnavailable. */
  async run<T>(operation: (redis: Redis) => Promise<T>): Promise<T> {
    try {
      return await operation(this.redis);
    } catch (err) {
      if (err instanceof TemporarilyUnavailable) throw err;
      throw new TemporarilyUnavailable(undefined, { cause: err });
    }
  }

  /** Whether Redis answers right now (readiness). */
  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }
}
