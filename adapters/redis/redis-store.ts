import { createHash } from 'node:crypto';
import type { Cluster, Redis, Result } from 'ioredis';
import { TemporarilyUnavailable } from '../../src/errors/oauth-error.js';
import type { RedisClient } from './connect.js';
import { IdCipher } from './id-cipher.js';
import { decodeRecord, encodeRecord, payloadOf, TOMBSTONE } from './record-codec.js';
import { RedisKeys } from './keys.js';
import { RespConnection, RespError } from './resp-connection.js';
import { hasOwnId, isPacked } from './token-payload.js';
import { ClusterReads } from './cluster-reads.js';
import {
  CREATE_ACCOUNT, CREATE_ACCOUNT_HASH, DELETE_IF_EQUAL, FETCH, INDEX_ADD, ISSUE_TICKET, REHASH_PASSWORD, RETIRE, SET_PASSWORD, STAMP_EPOCH, UPDATE_LIVE_ACCOUNT, UPSERT, UPSERT_RECORD,
} from './scripts.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    latchUpsert(numKeys: number, ...args: Array<string | number>): Result<string, Context>;
    latchFetch(numKeys: number, ...args: string[]): Result<unknown, Context>;
    latchStampEpoch(numKeys: number, ...args: string[]): Result<number, Context>;
    latchUpsertRecord(key: string, ...args: string[]): Result<string, Context>;
    latchRetire(key: string): Result<number, Context>;
    latchIndexAdd(key: string, member: string, expiresAt: string): Result<number, Context>;
    latchCreateAccount(usernameKey: string, accountKey: string, byUsername: string, byEmail: string, sub: string, ...args: string[]): Result<AccountCreation, Context>;
    latchUpdateLiveAccount(accountKey: string, ...args: string[]): Result<number, Context>;
    latchIssueTicket(accountKey: string, field: string, hash: string, ttlMs: string): Result<number, Context>;
    latchSetPassword(accountKey: string, hash: string, mustChange: string, ticketField: string, ticketHash: string): Result<number, Context>;
    latchRehashPassword(accountKey: string, verified: string, upgraded: string): Result<number, Context>;
    latchCreateAccountHash(accountKey: string, ...fields: string[]): Result<'created' | 'exists', Context>;
    latchDeleteIfEqual(key: string, value: string): Result<number, Context>;
  }
}

/**
 * Where a record's birth comes from: its grant (a grant's tokens and codes: they live and die with
 * it), the record it replaces (a browser session under a new id, oidc-provider's
 * `resetIdentifier`), or its own previous version.
 */
export type Lineage = { kind: 'grant'; key: string } | { kind: 'rename'; key: string } | { kind: 'own' };

/** Every account hash field a deletion removes (what stays: disabled, epoch, ce:*, deleted). */
const ACCOUNT_PROFILE_FIELDS = ['sub', 'username', 'password', 'email', 'name', 'roles', 'must_change', 'created', 'password_changed', 'reset', 'pwc'];

/** A member of the account list's indices: the lower-cased username or email, NUL, the subject. */
export function accountIndexMember(value: string, sub: string): string {
  return `${value.toLowerCase()}\0${sub}`;
}

/** What creating an account did: created it, found its subject's hash (live or a tombstone), or found the username taken. */
export type AccountCreation = 'created' | 'exists' | 'taken';

export interface RecordWrite {
  key: string;
  lineage: Lineage;
  payload: string;
  ttlMs?: number;
  accountHash: string;
  clientId: string;
  grantHash: string;
  /** Session-uid hash, for tokens that expire with their browser session ('' otherwise). */
  sessionUidHash: string;
  /**
   * An access token held in a grant: its payload without the grant id. Written instead of `payload`
   * (with an empty birth, and on one server an empty account) when its grant is live, of the same
   * account and holds its own id: FETCH then takes the three from the grant (scripts.ts WRITE_RECORD).
   */
  compactPayload?: string;
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
  /** The direct connection for FETCH (useDirectFetch), when there is one. */
  #direct: RespConnection | undefined;
  /** On a cluster, the direct connections to the primaries for the reads of `fetch`. */
  #clusterReads: ClusterReads | undefined;
  static readonly #FETCH_SHA = createHash('sha1').update(FETCH).digest('hex');

  constructor(redis: RedisClient, tokenHashKey: Buffer, prefix?: string) {
    this.redis = redis;
    this.clustered = 'isCluster' in redis && redis.isCluster;
    this.keys = new RedisKeys(tokenHashKey, prefix);
    this.cipher = new IdCipher(tokenHashKey);
    redis.defineCommand('latchUpsert', { lua: UPSERT });
    redis.defineCommand('latchFetch', { lua: FETCH });
    redis.defineCommand('latchStampEpoch', { lua: STAMP_EPOCH });
    redis.defineCommand('latchUpsertRecord', { numberOfKeys: 1, lua: UPSERT_RECORD });
    redis.defineCommand('latchRetire', { numberOfKeys: 1, lua: RETIRE });
    redis.defineCommand('latchIndexAdd', { numberOfKeys: 1, lua: INDEX_ADD });
    redis.defineCommand('latchCreateAccount', { numberOfKeys: 4, lua: CREATE_ACCOUNT });
    redis.defineCommand('latchUpdateLiveAccount', { numberOfKeys: 1, lua: UPDATE_LIVE_ACCOUNT });
    redis.defineCommand('latchIssueTicket', { numberOfKeys: 1, lua: ISSUE_TICKET });
    redis.defineCommand('latchSetPassword', { numberOfKeys: 1, lua: SET_PASSWORD });
    redis.defineCommand('latchRehashPassword', { numberOfKeys: 1, lua: REHASH_PASSWORD });
    redis.defineCommand('latchCreateAccountHash', { numberOfKeys: 1, lua: CREATE_ACCOUNT_HASH });
    redis.defineCommand('latchDeleteIfEqual', { numberOfKeys: 1, lua: DELETE_IF_EQUAL });
  }

  /**
   * Sends the hot path's reads over connections of its own (resp-connection.ts) instead of
   * ioredis's command machinery: on a single Redis the FETCH script, on a cluster the single-key
   * reads of `fetch`, one connection per primary (cluster-reads.ts). Not through a Sentinel (its
   * master moves) nor TLS: those stay with ioredis. ioredis still answers whenever a connection is
   * not ready, lost a command, is redirected, or Redis does not know the script yet (ioredis loads
   * it). Closed with the ioredis client.
   */
  useDirectFetch(): void {
    if (this.#direct || this.#clusterReads) return;
    if (this.clustered) {
      if (!(this.redis as Cluster).options.redisOptions?.tls) this.#clusterReads = new ClusterReads(this.redis as Cluster);
      return;
    }
    const { options } = this.redis as Redis;
    if (options.sentinels?.length || options.tls || options.path) return;
    const direct = new RespConnection({ host: options.host ?? '127.0.0.1', port: options.port ?? 6379, username: options.username, password: options.password, db: options.db });
    this.#direct = direct;
    this.redis.once('end', () => direct.close());
  }

  /** Whether FETCH goes over the direct connection right now. */
  get directFetchReady(): boolean {
    return this.#direct?.ready ?? false;
  }

  /** A single-key read of `fetch` on a cluster: over the primary's direct connection when there is one. */
  #read<T>(key: string, args: string[], viaIoredis: () => Promise<T>): Promise<T> {
    return this.#clusterReads ? this.#clusterReads.send(key, args, viaIoredis) : viaIoredis();
  }

  #get(key: string): Promise<string | null> {
    return this.#read(key, ['GET', key], () => this.redis.get(key));
  }

  #hget(key: string, field: string): Promise<string | null> {
    return this.#read(key, ['HGET', key, field], () => this.redis.hget(key, field));
  }

  #hmget(key: string, fields: string[]): Promise<Array<string | null>> {
    return this.#read(key, ['HMGET', key, ...fields], () => this.redis.hmget(key, ...fields));
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

  /**
   * Writes a record; returns its birth, or undefined when the write was refused because the record
   * (or the session it is renamed from) was deleted: its tombstone stays (record-codec.ts).
   */
  async upsertRecord(write: RecordWrite): Promise<string | undefined> {
    if (this.clustered) return this.#upsertAcrossSlots(write);
    const lineageKey = write.lineage.kind === 'own' ? write.key : write.lineage.key;
    const keys = [write.key, lineageKey, this.keys.clock(), ...write.indices.map((i) => i.index)];
    const args = [...this.#recordArgs(write), write.lineage.kind, write.compactPayload ?? '', ...write.indices.flatMap((i) => [i.member, i.expiresAt])];
    return (await this.redis.latchUpsert(keys.length, ...keys, ...args)) || undefined;
  }

  #recordArgs(write: RecordWrite): string[] {
    const ttl = write.ttlMs === undefined ? '' : String(write.ttlMs);
    return [write.payload, ttl, write.accountHash, write.clientId, write.grantHash, write.sessionUidHash];
  }

  /**
   * The cluster form of UPSERT: read the lineage first (the grant's birth, or the value under a
   * renamed session's previous id), then write the record and its index entries, each on its own
   * slot, then retire a renamed session's previous record. The indices serve cleanup and listings;
   * the kill switch never depends on them (epochs and tombstones do), so a crash between the steps
   * loses no revocation. A deletion of the previous session that lands between the read and the
   * retirement is seen by RETIRE, and the new record is buried too.
   */
  async #upsertAcrossSlots(write: RecordWrite): Promise<string | undefined> {
    const { lineage } = write;
    const source = lineage.kind === 'own' ? null : await this.redis.get(lineage.key);
    const grant = lineage.kind === 'grant' ? decodeRecord(source) : undefined;
    const inherited = lineage.kind === 'grant' ? (grant?.t ?? '0') : (source ?? '');
    const compact = write.compactPayload && grant && grant.a === write.accountHash && hasOwnId(grant.p) ? write.compactPayload : '';
    const [born] = await Promise.all([
      this.redis.latchUpsertRecord(write.key, ...this.#recordArgs(write), lineage.kind, inherited, compact),
      ...write.indices.map((i) => this.redis.latchIndexAdd(i.index, i.member, i.expiresAt)),
    ]);
    if (!born) {
      // Refused (rare): take back the index entries sent beside the write.
      await Promise.all(write.indices.map((i) => this.redis.zrem(i.index, i.member)));
      return undefined;
    }
    if (lineage.kind === 'rename' && source !== null && source !== TOMBSTONE) {
      if ((await this.redis.latchRetire(lineage.key)) === 0) {
        await this.bury(write.key);
        return undefined;
      }
      await Promise.all(write.indices.map((i) => this.redis.zrem(i.index, lineage.key)));
    }
    return born;
  }

  /** Replaces a record by its tombstone for the rest of its TTL (nothing when it is already gone). */
  async bury(key: string): Promise<void> {
    await this.redis.set(key, TOMBSTONE, 'KEEPTTL', 'XX');
  }

  /**
   * Ends a browser session: its record becomes a tombstone (so no in-flight request re-saves it),
   * and its uid lookup and account index entry go.
   */
  async deleteSession(sessionKey: string): Promise<void> {
    const payload = await this.readPayload(sessionKey);
    await Promise.all([
      this.bury(sessionKey),
      payload?.uid ? this.redis.del(this.keys.sessionUid(payload.uid)) : undefined,
      payload?.accountId ? this.redis.zrem(this.keys.accountSessions(payload.accountId), sessionKey) : undefined,
    ]);
  }

  /**
   * The first of `candidates` that exists, with its grant, account and client state, in the reply
   * shape of the FETCH script (record-state.ts decodes it). One round trip on a single server; on
   * a cluster two (three for session-bound tokens), each step's reads sent to their nodes at once.
   * The candidates are one id's keys under several models (keys.recordKeys): one hash tag.
   */
  fetch(candidates: string[]): Promise<unknown> {
    if (this.clustered) return this.#fetchAcrossSlots(candidates);
    const viaIoredis = () => this.redis.latchFetch(candidates.length, ...candidates, this.keys.prefix);
    if (!this.#direct?.ready) return viaIoredis();
    const command = ['EVALSHA', RedisStore.#FETCH_SHA, String(candidates.length), ...candidates, this.keys.prefix];
    return this.#direct.send(command).catch((err: Error) => {
      // A read is safe to ask again: a lost connection or an unknown script goes to ioredis (which
      // fails closed by itself if Redis is really gone); any other error reply is the answer.
      if (err instanceof RespError && !err.message.startsWith('NOSCRIPT')) throw err;
      return viaIoredis();
    });
  }

  async #fetchAcrossSlots(candidates: string[]): Promise<unknown> {
    const { keys } = this;
    // The candidates differ by model only: one hash tag, one slot, so one MGET (keys.ts).
    const values = await this.#read(candidates[0]!, ['MGET', ...candidates], () => this.redis.mget(...candidates));
    const index = values.findIndex((value) => decodeRecord(value) !== undefined);
    if (index < 0) return null;
    const r = decodeRecord(values[index])!;
    // Read after the record: an epoch stamped meanwhile is seen, never missed.
    const accountFields = ['disabled', 'epoch', `ce:${r.k}`, 'username', 'email', 'name', 'roles'];
    const [grantValue, ownAccount, clientEpoch, sessionKey] = await Promise.all([
      r.g ? this.#get(keys.recordKey('g', r.g)) : null,
      r.a ? this.#hmget(keys.accountByHash(r.a), accountFields) : [],
      r.k ? this.#hget(keys.clientEpochs(), r.k) : null,
      r.s ? this.#get(keys.sessionUidByHash(r.s)) : null,
    ]);
    const grant = decodeRecord(grantValue);
    // A compact access token written on one server keeps no account: read it after its grant's.
    const accountOf = r.a || grant?.a || '';
    let account = ownAccount;
    if (!r.a && accountOf) account = await this.#hmget(keys.accountByHash(accountOf), accountFields);
    // A token held in another client's grant (token exchange) dies with that client's epochs too:
    // read with the session, so a third round trip only for such a token (or a session-bound one).
    const other = grant?.k && grant.k !== r.k ? grant.k : '';
    const [sessionValue, otherAccountEpoch, otherClientEpoch] = await Promise.all([
      sessionKey ? this.#get(sessionKey) : null,
      other && accountOf ? this.#hget(keys.accountByHash(accountOf), `ce:${other}`) : null,
      other ? this.#hget(keys.clientEpochs(), other) : null,
    ]);
    const session = sessionKey ? decodeRecord(sessionValue) : undefined;
    // disabled, epoch, account-client epoch, username, email, name, roles ('' when no account).
    const [disabled, epoch, accountClientEpoch, username, email, name, roles] = accountFields.map((_, i) => account[i] ?? '');
    return [
      // A compact access token's birth is its grant's; with its grant gone it is born dead.
      index + 1, r.p, r.c, r.t || grant?.t || '0', grant?.p ?? '', grant?.t ?? '', disabled, epoch, accountClientEpoch,
      clientEpoch ?? '', username, email, name, roles, session?.p ?? '', session?.t ?? '', r.k, grant?.k ?? '',
      otherAccountEpoch ?? '', otherClientEpoch ?? '',
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
    const latest = String(await this.#latestPrimaryClock());
    // One server / Sentinel: never below the high-water mark of births (scripts.ts STAMP_EPOCH).
    if (!this.clustered) return this.redis.latchStampEpoch(2, key, this.keys.clock(), latest, ...fields);
    return this.redis.latchStampEpoch(1, key, latest, ...fields);
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

  /**
   * Claims `key` once: true for the first caller, false for every later one until it expires
   * (`SET NX PX`, atomic). The value is a record born now with `payload`, so the adapter's `find`
   * of the same key sees the claim too (ReplayDetection: keys.replayDetection). `overwrite` is for
   * the holder of a claim only: it rewrites the record and its lifetime unconditionally.
   */
  async claimOnce(key: string, ttlMs: number, payload: object, options: { overwrite?: boolean } = {}): Promise<boolean> {
    const value = encodeRecord({ t: String(Date.now()), c: '', a: '', k: '', g: '', s: '', p: JSON.stringify(payload) });
    const px = Math.max(1, Math.ceil(ttlMs));
    // `overwrite`: the claimer sets the record and lifetime of a claim it already holds.
    if (options.overwrite) return (await this.redis.set(key, value, 'PX', px)) === 'OK';
    return (await this.redis.set(key, value, 'PX', px, 'NX')) === 'OK';
  }

  /**
   * Creates account `sub` (hash fields `fields`) and claims `username` for it, refusing an existing
   * account hash (a deleted account's tombstone included), and lists it (the account list's
   * indices). One script on one server; on a cluster the keys live in different slots: the hash is
   * created first (refusing an existing one), then the username claimed, and the new hash removed
   * again if the username was taken; the index entries follow (a crash before them leaves the
   * account unlisted until the next seed or profile update, never a second account).
   */
  async createAccount(username: string, sub: string, fields: Record<string, string>): Promise<AccountCreation> {
    const { keys } = this;
    const accountKey = keys.account(sub);
    const usernameKey = keys.username(username);
    const pairs = Object.entries(fields).flat();
    const byUsername = accountIndexMember(username, sub);
    const byEmail = fields.email ? accountIndexMember(fields.email, sub) : '';
    if (!this.clustered) {
      return this.redis.latchCreateAccount(usernameKey, accountKey, keys.accountsByUsername(), keys.accountsByEmail(), sub, byUsername, byEmail, ...pairs);
    }
    if ((await this.redis.latchCreateAccountHash(accountKey, ...pairs)) === 'exists') return 'exists';
    if ((await this.redis.set(usernameKey, sub, 'NX')) !== 'OK') {
      await this.redis.del(accountKey);
      return 'taken';
    }
    await this.indexAccount(sub, username, fields.email);
    return 'created';
  }

  /** Lists account `sub` under its username and email (idempotent: ZADD of the same members). */
  async indexAccount(sub: string, username: string, email?: string): Promise<void> {
    await Promise.all([
      this.redis.zadd(this.keys.accountsByUsername(), 0, accountIndexMember(username, sub)),
      email ? this.redis.zadd(this.keys.accountsByEmail(), 0, accountIndexMember(email, sub)) : undefined,
    ]);
  }

  /** Takes account `sub` out of the list's indices (its username, and `email` when it had one). */
  async unindexAccount(sub: string, username: string, email?: string): Promise<void> {
    await Promise.all([
      this.redis.zrem(this.keys.accountsByUsername(), accountIndexMember(username, sub)),
      email ? this.redis.zrem(this.keys.accountsByEmail(), accountIndexMember(email, sub)) : undefined,
    ]);
  }

  /** Sets `set` and deletes `remove` on a live account's hash (never on a tombstone); false when there is none. */
  async updateLiveAccount(sub: string, set: Record<string, string>, remove: readonly string[] = []): Promise<boolean> {
    const pairs = Object.entries(set);
    return (await this.redis.latchUpdateLiveAccount(this.keys.account(sub), String(pairs.length), ...pairs.flat(), ...remove)) === 1;
  }

  /** Issues ticket `field` (value: the keyed hash of its secret) for `ttlMs` on Redis's clock; its expiry (ms), or undefined without a live account. */
  async issueTicket(sub: string, field: 'reset' | 'pwc', hash: string, ttlMs: number): Promise<number | undefined> {
    const expires = await this.redis.latchIssueTicket(this.keys.account(sub), field, hash, String(Math.ceil(ttlMs)));
    return expires > 0 ? expires : undefined;
  }

  /**
   * Sets the password hash ('' removes it) with `must_change`, when `ticket` (if given) is still the
   * account's and unexpired: 'set', 'no-account' or 'bad-ticket'. Ends every ticket of the account.
   */
  async setPassword(sub: string, hash: string, mustChange: boolean, ticket?: { field: 'reset' | 'pwc'; hash: string }): Promise<'set' | 'no-account' | 'bad-ticket'> {
    const result = await this.redis.latchSetPassword(this.keys.account(sub), hash, mustChange ? '1' : '0', ticket?.field ?? '', ticket?.hash ?? '');
    return result === 1 ? 'set' : result === 0 ? 'no-account' : 'bad-ticket';
  }

  /** Replaces hash `verified` by `upgraded` unless the password changed meanwhile; whether it did. */
  async rehashPassword(sub: string, verified: string, upgraded: string): Promise<boolean> {
    return (await this.redis.latchRehashPassword(this.keys.account(sub), verified, upgraded)) === 1;
  }

  /**
   * Reduces account `sub` to its tombstone: `disabled` = 1, its revocation epochs and a `deleted`
   * time (ms) stay, so nothing born before it comes back and the subject is never created again;
   * profile, password, roles, tickets and the logins history go, and so do its list entries and
   * the username index if it still names this subject.
   */
  async tombstoneAccount(sub: string, username: string, email?: string): Promise<void> {
    const { redis, keys } = this;
    const key = keys.account(sub);
    await Promise.all([
      // The hash and its logins list share the account's hash tag: one transaction, one slot.
      redis
        .multi()
        .hdel(key, ...ACCOUNT_PROFILE_FIELDS)
        .hset(key, { disabled: '1', deleted: String(Date.now()) })
        .del(keys.accountLogins(sub))
        .exec(),
      redis.latchDeleteIfEqual(keys.username(username), sub),
      this.unindexAccount(sub, username, email),
    ]);
  }

  /**
   * A record's payload (with its client restored), or undefined when absent. A packed access token
   * keeps no `accountId` (token-payload.ts): its grant is read for it.
   */
  async readPayload(key: string): Promise<{ accountId?: string; clientId?: string; grantId?: string; uid?: string; userCode?: string } | undefined> {
    const record = decodeRecord(await this.redis.get(key));
    if (!record) return undefined;
    const grant = record.g && isPacked(record.p) ? decodeRecord(await this.redis.get(this.keys.recordKey('g', record.g))) : undefined;
    return payloadOf(record, undefined, grant?.p);
  }

  /** A record's birth (ms), or undefined when absent. */
  async readBirth(key: string): Promise<number | undefined> {
    const record = decodeRecord(await this.redis.get(key));
    if (!record) return undefined;
    if (record.t !== '' || !record.g) return Number(record.t);
    return Number(decodeRecord(await this.redis.get(this.keys.recordKey('g', record.g)))?.t ?? 0);
  }

  /**
   * Deletes a grant (the authority for its tokens) and every token indexed under it. The grant leaves
   * a tombstone: a consent or refresh still in flight cannot re-save it, and tokens written under it
   * later are born dead (their lineage is gone).
   */
  async deleteGrant(grantKey: string): Promise<number> {
    const { redis, keys } = this;
    const membersKey = `${grantKey}:tokens`;
    const [payload, members] = await Promise.all([this.readPayload(grantKey), redis.zrange(membersKey, '0', '-1')]);
    // The grant and its member index share a hash tag, so this transaction is one slot.
    await redis.multi().set(grantKey, TOMBSTONE, 'KEEPTTL', 'XX').del(membersKey).exec();
    await Promise.all([
      payload?.accountId ? redis.zrem(keys.accountGrants(payload.accountId), grantKey) : undefined,
      payload?.accountId ? redis.hdel(keys.accountDevices(payload.accountId), grantKey) : undefined,
      payload?.clientId ? redis.zrem(keys.clientGrants(payload.clientId), grantKey) : undefined,
      this.deleteKeys(members.map((member) => keys.grantMemberKey(member))),
    ]);
    return members.length;
  }
}
