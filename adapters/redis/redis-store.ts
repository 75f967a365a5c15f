import type { Cluster, Result } from 'ioredis';
import { TemporarilyUnavailable } from '../../src/errors/oauth-error.js';
import type { RedisClient } from './connect.js';
import { IdCipher } from './id-cipher.js';
import { decodeRecord, payloadOf } from './record-codec.js';
import { RedisKeys } from './keys.js';
import { FETCH, INDEX_ADD, STAMP_EPOCH, UPSERT, UPSERT_RECORD } from './scripts.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    latchUpsert(numKeys: number, ...args: Array<string | number>): Result<string, Context>;
    latchFetch(numKeys: number, ...args: string[]): Result<unknown, Context>;
    latchStampEpoch(key: string, ...fields: string[]): Result<number, Context>;
    latchUpsertRecord(key: string, ...args: string[]): Result<string, Context>;
    latchIndexAdd(key: string, member: string, expiresAt: string): Result<number, Context>;
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
 *
 * On one server (or a Sentinel-managed master) the hot read and the record write are each one Lua
 * script that reaches across keys. A Redis Cluster refuses scripts whose keys live in different
 * slots, so there the same work is split into single-slot commands, sent together per step (see
 * `fetch` and `upsertRecord`); every other multi-key operation here is slot-safe in both modes.
 */
export class RedisStore {
  readonly redis: RedisClient;
  /** True on a Redis Cluster: no command or script may reach across slots. */
  readonly clustered: boolean;
  readonly keys: RedisKeys;
  readonly cipher: IdCipher;
  /** Called on every Redis failure (metrics). */
  onError: () => void = () => {};
  /** Called with the seconds each `run` took, success or failure (metrics). */
  onLatency: (seconds: number) => void = () => {};
  /**
   * Bound on each `run` as a whole (ms; 0 = none): app.ts sets the command timeout. ioredis starts
   * a command's own timeout only once the command is written, and with auto-pipelining a command
   * may first wait behind a batch already sent: under concurrency against a hung Redis that
   * doubled the time to the 503. This deadline starts when the request asks.
   */
  deadlineMs = 0;

  constructor(redis: RedisClient, tokenHashKey: Buffer, prefix?: string) {
    this.redis = redis;
    this.clustered = 'isCluster' in redis && redis.isCluster;
    this.keys = new RedisKeys(tokenHashKey, prefix);
    this.cipher = new IdCipher(tokenHashKey);
    redis.defineCommand('latchUpsert', { lua: UPSERT });
    redis.defineCommand('latchFetch', { lua: FETCH });
    redis.defineCommand('latchStampEpoch', { numberOfKeys: 1, lua: STAMP_EPOCH });
    redis.defineCommand('latchUpsertRecord', { numberOfKeys: 1, lua: UPSERT_RECORD });
    redis.defineCommand('latchIndexAdd', { numberOfKeys: 1, lua: INDEX_ADD });
  }

  /** Runs a Redis operation; any failure (down, timeout, refused) surfaces as TemporarilyUnavailable. */
  async run<T>(operation: (redis: RedisClient) => Promise<T>): Promise<T> {
    const started = process.hrtime.bigint();
    let timer: NodeJS.Timeout | undefined;
    try {
      if (this.deadlineMs <= 0) return await operation(this.redis);
      // The operation may still complete after the deadline (a write then lands late: the caller
      // was told 503 and retries); race() keeps its late rejection handled.
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer from Redis within ${this.deadlineMs} ms`)), this.deadlineMs);
      });
      return await Promise.race([operation(this.redis), deadline]);
    } catch (err) {
      if (err instanceof TemporarilyUnavailable) throw err;
      if ((err as { expose?: boolean }).expose) throw err;
      this.onError();
      throw new TemporarilyUnavailable(undefined, { cause: err });
    } finally {
      clearTimeout(timer);
      this.onLatency(Number(process.hrtime.bigint() - started) / 1e9);
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
    if (this.clustered) return this.#upsertAcrossSlots(write);
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

  /**
   * The cluster form of UPSERT: read the grant's birth (the lineage) first, then write the record
   * and its index entries, each on its own slot. The indices serve cleanup and listings; the kill
   * switch never depends on them (epochs do), so a crash between the steps loses no revocation.
   */
  async #upsertAcrossSlots(write: RecordWrite): Promise<string> {
    let birth = '';
    if (write.lineage !== write.key) birth = decodeRecord(await this.redis.get(write.lineage))?.t ?? '0';
    const args = [write.payload, write.ttlMs === undefined ? '' : String(write.ttlMs), write.accountHash, write.clientId, write.grantHash, write.sessionUidHash, birth];
    const [born] = await Promise.all([
      this.redis.latchUpsertRecord(write.key, ...args),
      ...write.indices.map((i) => this.redis.latchIndexAdd(i.index, i.member, i.expiresAt)),
    ]);
    return born;
  }

  /**
   * The first of `candidates` that exists, with its grant, account and client state, in the reply
   * shape of the FETCH script (record-state.ts decodes it). One round trip on a single server; on
   * a cluster two (three for session-bound tokens), each step's reads sent to their nodes at once.
   */
  fetch(candidates: string[]): Promise<unknown> {
    if (this.clustered) return this.#fetchAcrossSlots(candidates);
    return this.redis.latchFetch(candidates.length, ...candidates, this.keys.prefix);
  }

  async #fetchAcrossSlots(candidates: string[]): Promise<unknown> {
    const { redis, keys } = this;
    const values = await Promise.all(candidates.map((key) => redis.get(key)));
    const index = values.findIndex((value) => decodeRecord(value) !== undefined);
    if (index < 0) return null;
    const r = decodeRecord(values[index])!;
    // Read after the record: an epoch stamped meanwhile is seen, never missed.
    const accountFields = ['disabled', 'epoch', `ce:${r.k}`, 'username', 'email', 'name', 'roles'];
    const [grantValue, account, clientEpoch, sessionKey] = await Promise.all([
      r.g ? redis.get(keys.recordKey('g', r.g)) : null,
      r.a ? redis.hmget(keys.accountByHash(r.a), ...accountFields) : [],
      r.k ? redis.hget(keys.clientEpochs(), r.k) : null,
      r.s ? redis.get(keys.sessionUidByHash(r.s)) : null,
    ]);
    const grant = decodeRecord(grantValue);
    const session = sessionKey ? decodeRecord(await redis.get(sessionKey)) : undefined;
    // disabled, epoch, account-client epoch, username, email, name, roles ('' when no account).
    const [disabled, epoch, accountClientEpoch, username, email, name, roles] = accountFields.map((_, i) => account[i] ?? '');
    return [
      index + 1, r.p, r.c, r.t, grant?.p ?? '', grant?.t ?? '', disabled, epoch, accountClientEpoch,
      clientEpoch ?? '', username, email, name, roles, session?.p ?? '', session?.t ?? '', r.k, grant?.k ?? '',
    ];
  }

  /**
   * Deletes keys that may live in different slots. A cluster refuses a DEL across slots, so there
   * each key is its own DEL (auto-pipelined per node); one server takes them 500 at a time.
   */
  async deleteKeys(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const size = this.clustered ? 1 : 500;
    const batches: Array<Promise<number>> = [];
    for (let i = 0; i < keys.length; i += size) batches.push(this.redis.del(...keys.slice(i, i + size)));
    await Promise.all(batches);
  }

  /** Stamps revocation epochs (`fields` of hash `key`) with Redis's clock; returns the epoch (ms). */
  async stampEpoch(key: string, ...fields: string[]): Promise<number> {
    return this.redis.latchStampEpoch(key, String(await this.#latestPrimaryClock()), ...fields);
  }

  /**
   * On a cluster, births are stamped by the clock of whichever primary holds the record, and the
   * epoch by the primary holding the epoch's hash. Stamping the epoch with the latest clock among
   * all primaries keeps the cut-off safe under clock skew: every record born before the revocation
   * carries a birth at or below it. (Skew can only kill a token born just after, never spare one
   * born before.) A primary that does not answer is left out: its records cannot be read anyway.
   */
  async #latestPrimaryClock(): Promise<number> {
    if (!this.clustered) return 0;
    const nodes = (this.redis as Cluster).nodes('master');
    const times = await Promise.allSettled(nodes.map((node) => node.time()));
    return Math.max(0, ...times.map((t) => (t.status === 'fulfilled' ? Number(t.value[0]) * 1000 + Math.floor(Number(t.value[1]) / 1000) : 0)));
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
    // The grant and its member index share a hash tag, so this transaction is one slot.
    await redis.multi().del(grantKey, membersKey).exec();
    await Promise.all([
      payload?.accountId ? redis.zrem(keys.accountGrants(payload.accountId), grantKey) : undefined,
      payload?.accountId ? redis.hdel(keys.accountDevices(payload.accountId), grantKey) : undefined,
      payload?.clientId ? redis.zrem(keys.clientGrants(payload.clientId), grantKey) : undefined,
      this.deleteKeys(members),
    ]);
    return members.length;
  }
}
