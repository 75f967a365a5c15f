import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { ReplayStoreUnavailable } from './errors.js';
import type { Logger } from './logger.js';

/**
 * Where the `jti` of every accepted DPoP proof is remembered for as long as the proof could be
 * accepted (RFC 9449 §11.1). `claim` is atomic: of two requests with one proof, one wins.
 */
export interface ReplayStore {
  /** True the first time `key` is claimed within `ttlSeconds`, false after. May throw ReplayStoreUnavailable. */
  claim(key: string, ttlSeconds: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The replay key of a proof: its key's thumbprint and its jti, hashed (jti values are the client's). */
export function replayKey(jkt: string, jti: string): string {
  return createHash('sha256').update(`${jkt}\0${jti}`).digest('base64url');
}

/**
 * In this process, at most `maxEntries` proofs; expired ones go first, then the oldest. Only proofs
 * that passed every other check (signature, binding to a live token) get here, so filling it takes
 * valid tokens. One instance only: with several, a proof refused here is accepted by the next one.
 */
export class MemoryReplayStore implements ReplayStore {
  readonly #expiries = new Map<string, number>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(maxEntries: number, now: () => number = Date.now) {
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  get size(): number {
    return this.#expiries.size;
  }

  async claim(key: string, ttlSeconds: number): Promise<boolean> {
    const now = this.#now();
    const expiry = this.#expiries.get(key);
    if (expiry !== undefined && expiry > now) return false;
    this.#expiries.delete(key);
    for (const [oldest, at] of this.#expiries) {
      if (at > now && this.#expiries.size < this.#maxEntries) break;
      this.#expiries.delete(oldest);
    }
    this.#expiries.set(key, now + ttlSeconds * 1000);
    return true;
  }

  async close(): Promise<void> {
    this.#expiries.clear();
  }
}

/**
 * Shared by every instance of the API: `SET key 1 NX EX ttl` in Redis. A Redis that cannot answer
 * within the timeout fails the request closed (503), never open.
 */
export class RedisReplayStore implements ReplayStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redisUrl: string, keyPrefix: string, timeoutMs: number, logger: Logger) {
    this.#prefix = keyPrefix;
    this.#redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, commandTimeout: timeoutMs, connectTimeout: timeoutMs, lazyConnect: false });
    let lastWarning = 0;
    this.#redis.on('error', (err: Error) => {
      if (Date.now() - lastWarning > 5000) logger.warn({ err: err.message }, 'DPoP replay store: redis error (DPoP requests answered 503)');
      lastWarning = Date.now();
    });
  }

  async claim(key: string, ttlSeconds: number): Promise<boolean> {
    try {
      return (await this.#redis.set(`${this.#prefix}${key}`, '1', 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX')) === 'OK';
    } catch (err) {
      throw new ReplayStoreUnavailable({ cause: new Error((err as Error).message) });
    }
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
