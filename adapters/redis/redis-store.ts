import type { Redis, Result } from 'ioredis';
import { TemporarilyUnavailable } from '../../src/errors/oauth-error.js';
import { IdCipher } from './id-cipher.js';
import { decodeRecord, payloadOf } from './record-codec.js';
import { RedisKeys } from './keys.js';
import { FETCH, STAMP_EPOCH, UPSERT } from './scripts.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    latchUpsert(numKeys: number, ...args: Array<string | number>): Result<string, Context>;
    latchFetch(numKeys: number, ...args: string[]): Result<unknown, Context>;
    latchStampEpoch(key: string, ...fields: string[]): Result<number, Context>;
  }
}

export interface RecordWrite {
  key: string;
  /** Where the record's birth comes from: its grant's key, or its own key. */
  lineage: string;
  payload: string;
  ttlMs?: number;
  accountHash: string;
  clientId: string;
  grantHash: string;
  /** Session-uid hash, for tokens that expire with their browser session ('' otherwise). */
  sessionUidHash: string;
  indices: Array<{ index: string; member: string; expiresAt: string }>;
}

/**
 * The narrow storage facade shared by the oidc-provider adapter and Latch's own modules
 * (accounts, introspection, revocation). It owns the Redis client, the key builder, the scripts,
 * and the rule that every Redis failure becomes a 503 `temporarily_unavailable` (fail closed).
 */
export class RedisStore {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  readonly cipher: IdCipher;
  /** Called on every Redis failure (metrics). */
  onError: () => void = () => {};

  constructor(redis: Redis, tokenHashKey: Buffer, prefix?: string) {
    this.redis = redis;
    this.keys = new RedisKeys(tokenHashKey, prefix);
    this.cipher = new IdCipher(tokenHashKey);
    redis.defineCommand('latchUpsert', { lua: UPSERT });
    redis.defineCommand('latchFetch', { lua: FETCH });
    redis.defineCommand('latchStampEpoch', { numberOfKeys: 1, lua: STAMP_EPOCH });
  }

  /** Runs a Redis operation; any failure (down, timeout, refused) surfaces as TemporarilyUnavailable. */
  async run<T>(operation: (redis: Redis) => Promise<T>): Promise<T> {
    try {
      return await operation(this.redis);
    } catch (err) {
      if (err instanceof TemporarilyUnavailable) throw err;
      if ((err as { expose?: boolean }).expose) throw err;
      this.onError();
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

  upsertRecord(write: RecordWrite): Promise<string> {
    const keys = [write.key, write.lineage, ...write.indices.map((i) => i.index)];
    const args = [
      write.payload,
      write.ttlMs === undefined ? '' : String(write.ttlMs),
      write.accountHash,
      write.clientId,
      write.grantHash,
      write.sessionUidHash,
      ...write.indices.flatMap((i) => [i.member, i.expiresAt]),
    ];
    return this.redis.latchUpsert(keys.length, ...keys, ...args);
  }

  /** One round trip: the first of `candidates` that exists, its grant, account and client state. */
  fetch(candidates: string[]): Promise<unknown> {
    return this.redis.latchFetch(candidates.length, ...candidates, this.keys.prefix);
  }

  /** Stamps revocation epochs (`fields` of hash `key`) with Redis's clock; returns the epoch (ms). */
  stampEpoch(key: string, ...fields: string[]): Promise<number> {
    return this.redis.latchStampEpoch(key, ...fields);
  }

  /** A record's payload (with its client restored), or undefined when absent. */
  async readPayload(key: string): Promise<{ accountId?: string; clientId?: string; grantId?: string; uid?: string; userCode?: string } | undefined> {
    const record = decodeRecord(await this.redis.get(key));
    return record ? payloadOf(record) : undefined;
  }

  /** A record's birth (ms), or undefined when absent. */
  async readBirth(key: string): Promise<number | undefined> {
    const record = decodeRecord(await this.redis.get(key));
    return record ? Number(record.t) : undefined;
  }

  /** Deletes a grant (the authority for its tokens) and every token indexed under it. */
  async deleteGrant(grantKey: string): Promise<number> {
    const { redis, keys } = this;
    const membersKey = `${grantKey}:tokens`;
    const [payload, members] = await Promise.all([this.readPayload(grantKey), redis.zrange(membersKey, '0', '-1')]);
    await redis.multi().del(grantKey, membersKey).exec();
    const cleanup = redis.pipeline();
    if (payload?.accountId) cleanup.zrem(keys.accountGrants(payload.accountId), grantKey);
    if (payload?.accountId) cleanup.hdel(keys.accountDevices(payload.accountId), grantKey);
    if (payload?.clientId) cleanup.zrem(keys.clientGrants(payload.clientId), grantKey);
    for (let i = 0; i < members.length; i += 500) cleanup.del(...members.slice(i, i + 500));
    await cleanup.exec();
    return members.length;
  }
}
