import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { Result } from 'ioredis';
import { openInteraction, sealInteraction } from './interaction-record.js';
import { modelCode } from './keys.js';
import { decodeFetch, isRevoked } from './record-state.js';
import type { RedisStore } from './redis-store.js';
import { CONSUME, TAKE_GRANT_MEMBERS } from './scripts.js';

/**
 * oidc-provider adapter on Redis. Layout (README.md beside this file has the full table):
 *
 *   <record>              string t␟c␟a␟k␟g␟s␟p (record-codec.ts), TTL = expiresIn + clock tolerance
 *   g:{h}:tokens          zset  record keys of a grant's tokens, score = expiry (ms)
 *   acct:{a.h}:grants     zset  grant keys of an account          acct:{a.h}:sessions  its sessions
 *   client:{c.h}:grants   zset  grant keys of a client            client:{c.h}:tokens  its grant-less tokens
 *   s-uid:{h}, uc:{h}     string record key of the Session / device code a uid / user code points to
 *
 * The id (the token value, for tokens) is never stored: keys use its HMAC, and the payload's `jti`
 * is dropped on write and restored from the id the caller already holds on read. Sessions are the
 * one model that must be found without their id (findByUid), so theirs is kept AES-GCM sealed;
 * an Interaction's copy of its browser session's id is sealed too (interaction-record.ts).
 *
 * Every read goes through the FETCH script, which also returns the account's and client's
 * revocation state: a record killed by a revocation epoch or a disabled account reads as absent,
 * on every path oidc-provider has (introspection, refresh, userinfo, sessions).
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

declare module 'ioredis' {
  interface RedisCommander<Context> {
    latchConsume(key: string, now: number): Result<[number, string | null, string | null], Context>;
    latchTakeGrantMembers(membersKey: string, prefix: string): Result<string[], Context>;
  }
}

interface StoredPayload extends AdapterPayload {
  /** Sealed id (Sessions and device codes only). */
  _sid?: string;
}

export interface AdapterHooks {
  /** Called after the adapter itself revoked a grant (a lost consume race = token reuse). */
  grantRevoked?(grant: { accountId?: string; clientId?: string }): void;
}

export function redisAdapterFactory(store: RedisStore, hooks: AdapterHooks = {}, clockToleranceSeconds = 15): (model: string) => Adapter {
  const { redis, keys, cipher } = store;
  redis.defineCommand('latchConsume', { numberOfKeys: 1, lua: CONSUME });
  redis.defineCommand('latchTakeGrantMembers', { numberOfKeys: 1, lua: TAKE_GRANT_MEMBERS });

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
      // The key says the id and the model, the record's `k` the client: not stored twice.
      delete stored.jti;
      delete stored.kind;
      delete stored.clientId;
      if (this.model === 'Session' || payload.userCode) stored._sid = cipher.seal(id);
      if (this.model === 'Interaction') sealInteraction(stored, id, cipher);
      // Redis keeps records for the clock tolerance beyond expiry so an expired token is reported
      // as expired (not unknown) in that window, as oidc-provider expects.
      const ttlMs = typeof expiresIn === 'number' ? (expiresIn + clockToleranceSeconds) * 1000 : undefined;
      const expiresAt = ttlMs === undefined ? 'inf' : String(Date.now() + ttlMs);

      const grantKey = GRANTABLE.has(this.model) && payload.grantId ? keys.grant(payload.grantId) : '';
      const indices: Array<[string, string]> = [];
      if (grantKey) indices.push([keys.grantMembers(payload.grantId!), key]);
      if (this.model === 'Grant' && payload.accountId) indices.push([keys.accountGrants(payload.accountId), key]);
      if (this.model === 'Grant' && payload.clientId) indices.push([keys.clientGrants(payload.clientId), key]);
      if (this.model === 'ClientCredentials' && payload.clientId) indices.push([keys.clientTokens(payload.clientId), key]);
      if (this.model === 'Session' && payload.accountId) indices.push([keys.accountSessions(payload.accountId), key]);

      await store.run(async () => {
        await store.upsertRecord({
          key,
          lineage: grantKey || key,
          payload: JSON.stringify(stored),
          ttlMs,
          accountHash: payload.accountId ? keys.accountHash(payload.accountId) : '',
          clientId: payload.clientId ?? '',
          grantHash: grantKey ? keys.grantHash(payload.grantId!) : '',
          sessionUidHash: payload.expiresWithSession && payload.sessionUid ? keys.sessionUidHash(payload.sessionUid) : '',
          indices: indices.map(([index, member]) => ({ index, member, expiresAt })),
        });
        const secondary = this.model === 'Session' && payload.uid ? keys.sessionUid(payload.uid) : payload.userCode ? keys.userCode(payload.userCode) : '';
        if (secondary && ttlMs === undefined) await redis.set(secondary, key);
        else if (secondary) await redis.set(secondary, key, 'PX', ttlMs!);
      });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      return this.#read(keys.record(this.model, id), id);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.#findByIndex(keys.sessionUid(uid));
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.#findByIndex(keys.userCode(userCode));
    }

    async #findByIndex(indexKey: string): Promise<AdapterPayload | undefined> {
      const key = await store.run(() => redis.get(indexKey));
      return key ? this.#read(key) : undefined;
    }

    /** Reads a record, hiding it when a revocation killed it. `id` absent: recover it from `_sid`. */
    async #read(key: string, id?: string): Promise<AdapterPayload | undefined> {
      const record = decodeFetch(await store.run(() => store.fetch([key])));
      if (!record || isRevoked(record)) return undefined;
      const payload = JSON.parse(record.payload) as StoredPayload;
      payload.kind = this.model;
      if (record.clientId) payload.clientId = record.clientId;
      const realId = id ?? (payload._sid ? cipher.open(payload._sid) : undefined);
      if (!realId) return undefined;
      delete payload._sid;
      payload.jti = realId;
      if (this.model === 'Interaction') openInteraction(payload, realId, cipher);
      if (record.consumed) payload.consumed = Number(record.consumed);
      return payload;
    }

    /**
     * Atomic and once-only (HSETNX). oidc-provider checks `consumed` before calling this, but two
     * concurrent requests can both pass that check; the loser lands here, and is treated exactly as
     * oidc-provider treats a sequential reuse: the whole grant is revoked and the request refused.
     */
    async consume(id: string): Promise<void> {
      const key = keys.record(this.model, id);
      const [result, p, client] = await store.run(() => redis.latchConsume(key, Math.floor(Date.now() / 1000)));
      if (result === 1) return;
      if (result === 0 && CONSUMABLE.has(this.model) && p) {
        const { grantId, accountId } = JSON.parse(p) as AdapterPayload;
        const clientId = client || undefined;
        if (grantId) {
          await store.run(() => store.deleteGrant(keys.grant(grantId)));
          hooks.grantRevoked?.({ accountId, clientId });
        }
      }
      throw new errors.InvalidGrant(result === -1 ? 'grant request is no longer valid' : 'grant request already used');
    }

    async destroy(id: string): Promise<void> {
      const key = keys.record(this.model, id);
      if (this.model === 'Grant') {
        await store.run(() => store.deleteGrant(key));
        return;
      }
      await store.run(async () => {
        const payload = await store.readPayload(key);
        // Separate single-key commands (sent together): index entries live in other slots.
        const pending: Array<Promise<unknown>> = [redis.del(key)];
        if (payload) {
          if (GRANTABLE.has(this.model) && payload.grantId) pending.push(redis.zrem(keys.grantMembers(payload.grantId), key));
          if (this.model === 'ClientCredentials' && payload.clientId) pending.push(redis.zrem(keys.clientTokens(payload.clientId), key));
          if (this.model === 'Session') {
            if (payload.uid) pending.push(redis.del(keys.sessionUid(payload.uid)));
            if (payload.accountId) pending.push(redis.zrem(keys.accountSessions(payload.accountId), key));
          }
          if (payload.userCode) pending.push(redis.del(keys.userCode(payload.userCode)));
        }
        await Promise.all(pending);
      });
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const prefix = `${keys.prefix}${this.code}:{`;
      await store.run(async () => {
        const members = await redis.latchTakeGrantMembers(keys.grantMembers(grantId), prefix);
        await store.deleteKeys(members);
      });
    }
  }

  return (model: string) => new RedisAdapter(model);
}
