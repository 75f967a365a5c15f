import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { ChainableCommander, Result } from 'ioredis';
import { modelCode } from './keys.js';
import type { RedisStore } from './redis-store.js';

/**
 * oidc-provider adapter on Redis. Layout (see README.md beside this file):
 *
 *   <record>            hash  p = payload JSON without its id, c = consumed-at (epoch s), TTL = expiresIn
 *   g:{h}:tokens        zset  record keys of a grant's tokens, score = expiry (ms)
 *   acct:{a.h}:grants   zset  grant record keys of an account, score = expiry (ms)
 *   acct:{a.h}:sessions zset  session record keys of an account, score = expiry (ms)
 *   s-uid:{h}, uc:{h}   string record key of the Session / device code the uid / user code points to
 *
 * The id (the token value for tokens) is never stored: keys use its HMAC, and the payload's `jti`
 * is dropped on write and restored from the id the caller already holds on read. Sessions are the
 * one model that must be found without their id (findByUid), so theirs is kept AES-GCM sealed.
 */

/** Models whose records belong to a grant and die with it (oidc-provider revokes them by grant id). */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/** Models that are consumed once (refresh tokens under rotation, codes). */
const CONSUMABLE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

const CONSUME_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, false} end
local set = redis.call('HSETNX', KEYS[1], 'c', ARGV[1])
return {set, redis.call('HGET', KEYS[1], 'p')}
`;

/** Removes a grant's members of one model and returns them, atomically, on the grant's slot. */
const TAKE_GRANT_MEMBERS_SCRIPT = `
local out = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(member, 1, string.len(ARGV[1])) == ARGV[1] then
    out[#out + 1] = member
  end
end
if #out > 0 then redis.call('ZREM', KEYS[1], unpack(out)) end
return out
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    latchConsume(key: string, now: number): Result<[number, string | null], Context>;
    latchTakeGrantMembers(membersKey: string, prefix: string): Result<string[], Context>;
  }
}

interface StoredPayload extends AdapterPayload {
  /** Sealed id (Sessions and device codes only). */
  _sid?: string;
}

function epochSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Adds `member` to an expiring index and keeps the index's own TTL at its latest member. */
function indexAdd(tx: ChainableCommander, index: string, member: string, expiresAtMs: number): void {
  tx.zremrangebyscore(index, '-inf', String(Date.now()));
  tx.zadd(index, expiresAtMs, member);
  if (Number.isFinite(expiresAtMs)) {
    // NX sets the first TTL, GT only ever extends it (Redis 7).
    tx.pexpireat(index, expiresAtMs, 'NX');
    tx.pexpireat(index, expiresAtMs, 'GT');
  } else {
    tx.persist(index);
  }
}

export function redisAdapterFactory(store: RedisStore, clockToleranceSeconds = 15): (model: string) => Adapter {
  const { redis, keys, cipher } = store;
  redis.defineCommand('latchConsume', { numberOfKeys: 1, lua: CONSUME_SCRIPT });
  redis.defineCommand('latchTakeGrantMembers', { numberOfKeys: 1, lua: TAKE_GRANT_MEMBERS_SCRIPT });

  /** Deletes a grant and every token indexed under it; the grant record is the authority. */
  async function revokeGrant(grantId: string): Promise<void> {
    const grantKey = keys.grant(grantId);
    const membersKey = keys.grantMembers(grantId);
    const [p, members] = await Promise.all([redis.hget(grantKey, 'p'), redis.zrange(membersKey, '0', '-1')]);
    await redis.multi().del(grantKey, membersKey).exec();
    const accountId = p ? (JSON.parse(p) as AdapterPayload).accountId : undefined;
    if (accountId) await redis.zrem(keys.accountGrants(accountId), grantKey);
    if (members.length) await redis.del(...members);
  }

  class RedisAdapter implements Adapter {
    readonly model: string;
    readonly code: string;

    constructor(model: string) {
      this.model = model;
      this.code = modelCode(model);
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const key = keys.record(this.model, id);
      const stored: StoredPayload = { ...payload };
      delete stored.jti;
      if (this.model === 'Session' || payload.userCode) stored._sid = cipher.seal(id);
      // Redis keeps records for the clock tolerance beyond expiry so an expired token is reported
      // as expired (not unknown) in that window, as oidc-provider expects.
      const ttlMs = typeof expiresIn === 'number' ? (expiresIn + clockToleranceSeconds) * 1000 : undefined;
      const expiresAtMs = ttlMs === undefined ? Infinity : Date.now() + ttlMs;

      await store.run(async () => {
        const tx = redis.multi();
        tx.del(key);
        tx.hset(key, 'p', JSON.stringify(stored));
        if (ttlMs !== undefined) tx.pexpire(key, ttlMs);
        if (GRANTABLE.has(this.model) && payload.grantId) {
          indexAdd(tx, keys.grantMembers(payload.grantId), key, expiresAtMs);
        }
        if (this.model === 'Grant' && payload.accountId) {
          indexAdd(tx, keys.accountGrants(payload.accountId), key, expiresAtMs);
        }
        if (this.model === 'Session') {
          if (payload.uid) {
            tx.set(keys.sessionUid(payload.uid), key);
            if (ttlMs !== undefined) tx.pexpire(keys.sessionUid(payload.uid), ttlMs);
          }
          if (payload.accountId) indexAdd(tx, keys.accountSessions(payload.accountId), key, expiresAtMs);
        }
        if (payload.userCode) {
          tx.set(keys.userCode(payload.userCode), key);
          if (ttlMs !== undefined) tx.pexpire(keys.userCode(payload.userCode), ttlMs);
        }
        await tx.exec();
      });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const key = keys.record(this.model, id);
      const [p, c] = await store.run(() => redis.hmget(key, 'p', 'c'));
      return this.#decode(id, p, c);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.#findByIndex(keys.sessionUid(uid));
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.#findByIndex(keys.userCode(userCode));
    }

    async #findByIndex(indexKey: string): Promise<AdapterPayload | undefined> {
      return store.run(async () => {
        const key = await redis.get(indexKey);
        if (!key) return undefined;
        const [p, c] = await redis.hmget(key, 'p', 'c');
        if (!p) return undefined;
        const stored = JSON.parse(p) as StoredPayload;
        if (!stored._sid) return undefined;
        return this.#decode(cipher.open(stored._sid), p, c);
      });
    }

    #decode(id: string, p: string | null, c: string | null): AdapterPayload | undefined {
      if (!p) return undefined;
      const payload = JSON.parse(p) as StoredPayload;
      delete payload._sid;
      payload.jti = id;
      if (c) payload.consumed = Number(c);
      return payload;
    }

    /**
     * Atomic and once-only (HSETNX). oidc-provider checks `consumed` before calling this, but two
     * concurrent requests can both pass that check; the loser lands here, and is treated exactly as
     * oidc-provider treats a sequential reuse: the whole grant is revoked and the request refused.
     */
    async consume(id: string): Promise<void> {
      const key = keys.record(this.model, id);
      const [result, p] = await store.run(() => redis.latchConsume(key, epochSeconds()));
      if (result === 1) return;
      if (result === 0 && CONSUMABLE.has(this.model) && p) {
        const { grantId } = JSON.parse(p) as AdapterPayload;
        if (grantId) await store.run(() => revokeGrant(grantId));
      }
      throw new errors.InvalidGrant(result === -1 ? 'grant request is no longer valid' : 'grant request already used');
    }

    async destroy(id: string): Promise<void> {
      const key = keys.record(this.model, id);
      await store.run(async () => {
        const p = await redis.hget(key, 'p');
        const tx = redis.multi().del(key);
        if (p) {
          const payload = JSON.parse(p) as AdapterPayload;
          if (GRANTABLE.has(this.model) && payload.grantId) tx.zrem(keys.grantMembers(payload.grantId), key);
          if (this.model === 'Grant') {
            tx.del(keys.grantMembers(id));
            if (payload.accountId) tx.zrem(keys.accountGrants(payload.accountId), key);
          }
          if (this.model === 'Session') {
            if (payload.uid) tx.del(keys.sessionUid(payload.uid));
            if (payload.accountId) tx.zrem(keys.accountSessions(payload.accountId), key);
          }
          if (payload.userCode) tx.del(keys.userCode(payload.userCode));
        }
        await tx.exec();
      });
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const prefix = `${keys.prefix}${this.code}:{`;
      await store.run(async () => {
        const members = await redis.latchTakeGrantMembers(keys.grantMembers(grantId), prefix);
        if (members.length) await redis.del(...members);
      });
    }
  }

  return (model: string) => new RedisAdapter(model);
}
