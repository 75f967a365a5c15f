import type { Adapter, AdapterPayload } from 'oidc-provider';
import Provider, { errors } from 'oidc-provider';
import type { Result } from 'ioredis';
import { openInteraction, sealInteraction } from './interaction-record.js';
import { modelCode } from './keys.js';
import { decodeFetch, isRevoked } from './record-state.js';
import type { Lineage, RedisStore } from './redis-store.js';
import { CONSUME, TAKE_GRANT_MEMBERS } from './scripts.js';
import { packTokenPayload, PACKED_MODELS, unpackTokenPayload } from './token-payload.js';

/**
 * oidc-provider adapter on Redis. Layout (README.md beside this file has the full table):
 *
 *   <record>              string t␟c␟a␟k␟g␟s␟p (record-codec.ts), TTL = expiresIn + clock tolerance
 *   g:{h}:tokens          zset  a grant's tokens (`<code>:<hash>`; whole record keys before issue 16), score = expiry (ms)
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

/**
 * How long find() claims a jti before save() sets its lifetime: beyond oidc-provider's DPoP proof
 * window (300 s) and Latch's longest client assertion (5 minutes), plus twice the clock tolerance.
 */
const REPLAY_CLAIM_MS = (300 + 2 * 15) * 1000;

/** Models whose death a resource server's cache must hear of (the tokens it is shown). */
const TOKENS = new Set(['AccessToken', 'RefreshToken', 'ClientCredentials']);

/** Models that are consumed once (refresh tokens under rotation, codes). */
const CONSUMABLE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

declare module 'ioredis' {
  interface RedisCommander<Context> {
    latchConsume(key: string, now: number): Result<[number, string | null, string | null], Context>;
    latchTakeGrantMembers(membersKey: string, code: string, prefix: string): Result<string[], Context>;
  }
}

interface StoredPayload extends AdapterPayload {
  /** Sealed id (Sessions and device codes only). */
  _sid?: string;
}

/**
 * oidc-provider renames a browser session (`resetIdentifier`: a fresh id after a login, against
 * session fixation) by destroying the old id and then saving the new one. Seen separately, the
 * destroy is indistinguishable from a logout, and the save from a brand-new session; so the adapter
 * recognises the pair from the request's session (`Provider.ctx`, oidc-provider's current request)
 * and makes it one step: the new id keeps the old one's birth, and a session that was deleted
 * meanwhile (by a revocation or a logout) is not renamed back to life.
 */
function renamedFrom(id: string): string | undefined {
  const session = (Provider.ctx as { oidc?: { session?: { oldId?: string; jti?: string } } } | undefined)?.oidc?.session;
  return session?.oldId && session.oldId !== id && session.jti === id ? session.oldId : undefined;
}

function isBeingRenamed(id: string): boolean {
  const session = (Provider.ctx as { oidc?: { session?: { oldId?: string; jti?: string } } } | undefined)?.oidc?.session;
  return session?.oldId === id && session.jti !== id;
}

/** The account an Interaction acts for: the one its login step proved, else its session's. */
function interactionAccount(payload: AdapterPayload): string | undefined {
  const result = payload.result as { login?: { accountId?: string } } | undefined;
  const session = payload.session as { accountId?: string } | undefined;
  return result?.login?.accountId ?? session?.accountId;
}

/** What died by oidc-provider's hand: a grant (with its tokens), or one token (`token` is its value, the id). */
export type Death =
  | { kind: 'grant'; grantId: string; accountId?: string; clientId?: string }
  | { kind: 'token'; model: string; token: string; grantId?: string; accountId?: string; clientId?: string };

export interface AdapterHooks {
  /**
   * Called once a grant or a token is gone: a Grant or token `destroy`, a `revokeByGrantId` that
   * took tokens of a live grant, a lost `consume` race (reuse). Awaited, so the request that killed
   * it answers only after the hook did (src/revocation/ publishes the death from here).
   */
  died?(death: Death): Promise<void>;
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
      // A grant keeps its own id, first (token-payload.ts hasOwnId): its access tokens then store
      // it no more (the compact form below), one copy instead of one per token.
      const stored: StoredPayload = this.model === 'Grant' ? { jti: id, ...payload } : { ...payload };
      // The key says the id and the model, the record's `k` the client: not stored twice.
      if (this.model !== 'Grant') delete stored.jti;
      else stored.jti = id;
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
      if (grantKey) indices.push([keys.grantMembers(payload.grantId!), keys.grantMember(this.model, id)]);
      if (this.model === 'Grant' && payload.accountId) indices.push([keys.accountGrants(payload.accountId), key]);
      if (this.model === 'Grant' && payload.clientId) indices.push([keys.clientGrants(payload.clientId), key]);
      if (this.model === 'ClientCredentials' && payload.clientId) indices.push([keys.clientTokens(payload.clientId), key]);
      if (this.model === 'Session' && payload.accountId) indices.push([keys.accountSessions(payload.accountId), key]);

      if (this.model === 'ReplayDetection') {
        // The jti was claimed by find() (below); this sets its exact lifetime.
        await store.run(() => store.claimOnce(key, ttlMs ?? clockToleranceSeconds * 1000, stored, { overwrite: true }));
        return;
      }

      const previous = this.model === 'Session' ? renamedFrom(id) : undefined;
      const lineage: Lineage = grantKey ? { kind: 'grant', key: grantKey } : previous ? { kind: 'rename', key: keys.record('Session', previous) } : { kind: 'own' };
      // An Interaction that carries a login (or a logged-in session) is the account's: it dies with
      // the account's revocations, so a login proved before a revoke-all cannot be resumed after it.
      const accountId = this.model === 'Interaction' ? interactionAccount(payload) : payload.accountId;

      await store.run(async () => {
        const born = await store.upsertRecord({
          key,
          lineage,
          payload: PACKED_MODELS.has(this.model) ? packTokenPayload(this.model, stored) : JSON.stringify(stored),
          compactPayload: this.model === 'AccessToken' && grantKey ? packTokenPayload(this.model, stored, true) : undefined,
          ttlMs,
          accountHash: accountId ? keys.accountHash(accountId) : '',
          clientId: payload.clientId ?? '',
          grantHash: grantKey ? keys.grantHash(payload.grantId!) : '',
          sessionUidHash: payload.expiresWithSession && payload.sessionUid ? keys.sessionUidHash(payload.sessionUid) : '',
          indices: indices.map(([index, member]) => ({ index, member, expiresAt })),
        });
        // Refused: the record was deleted while this request held it; it stays deleted.
        if (born === undefined) return;
        const secondary = this.model === 'Session' && payload.uid ? keys.sessionUid(payload.uid) : payload.userCode ? keys.userCode(payload.userCode) : '';
        if (secondary && ttlMs === undefined) await redis.set(secondary, key);
        else if (secondary) await redis.set(secondary, key, 'PX', ttlMs!);
      });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'ReplayDetection') return this.#claimJti(id);
      return this.#read(keys.record(this.model, id), id);
    }

    /**
     * oidc-provider's ReplayDetection.unique() is find-then-save: two requests spending one jti at
     * once would both pass the find. So the find is the claim (SET NX, the same one the
     * introspection endpoint makes, RedisStore.claimOnce): the first caller finds nothing and owns
     * the jti, every other finds it spent, and oidc-provider refuses it with the error of its own
     * check (a replayed DPoP proof is invalid_grant, a replayed client assertion invalid_client).
     * The claim lasts as long as any JWT oidc-provider spends may (a DPoP proof's window, an
     * assertion's bounded lifetime); the save that follows sets the exact lifetime.
     */
    async #claimJti(id: string): Promise<AdapterPayload | undefined> {
      const claimed = await store.run(() => store.claimOnce(keys.record('ReplayDetection', id), REPLAY_CLAIM_MS, { claimed: true }));
      return claimed ? undefined : { kind: 'ReplayDetection', jti: id };
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
      const payload = unpackTokenPayload(record.payload, record.grantPayload) as StoredPayload;
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
      const [result, p] = await store.run(() => redis.latchConsume(key, Math.floor(Date.now() / 1000)));
      if (result === 1) return;
      if (result === 0 && CONSUMABLE.has(this.model) && p) {
        const { grantId } = unpackTokenPayload(p) as AdapterPayload;
        if (grantId) await this.#destroyGrant(grantId);
      }
      throw new errors.InvalidGrant(result === -1 ? 'grant request is no longer valid' : 'grant request already used');
    }

    async destroy(id: string): Promise<void> {
      const key = keys.record(this.model, id);
      if (this.model === 'Grant') return this.#destroyGrant(id);
      if (this.model === 'Session') {
        // A rename's destroy: the save of the new id that follows retires this one atomically.
        if (isBeingRenamed(id)) return;
        await store.run(() => store.deleteSession(key));
        return;
      }
      const payload = await store.run(async () => {
        const payload = await store.readPayload(key);
        // Separate single-key commands (sent together): index entries live in other slots.
        const pending: Array<Promise<unknown>> = [redis.del(key)];
        if (payload) {
          // Its member, or its whole key in an index written before issue 16.
          if (GRANTABLE.has(this.model) && payload.grantId) pending.push(redis.zrem(keys.grantMembers(payload.grantId), keys.grantMember(this.model, id), key));
          if (this.model === 'ClientCredentials' && payload.clientId) pending.push(redis.zrem(keys.clientTokens(payload.clientId), key));
          if (payload.userCode) pending.push(redis.del(keys.userCode(payload.userCode)));
        }
        await Promise.all(pending);
        return payload;
      });
      if (payload && TOKENS.has(this.model)) {
        const { grantId, accountId, clientId } = payload;
        await hooks.died?.({ kind: 'token', model: this.model, token: id, grantId, accountId, clientId });
      }
    }

    /** Deletes a grant with its tokens; reports its death when it was still there (concurrent losers of a race report once, mostly). */
    async #destroyGrant(grantId: string): Promise<void> {
      const key = keys.grant(grantId);
      const grant = await store.run(async () => {
        const payload = await store.readPayload(key);
        await store.deleteGrant(key);
        return payload;
      });
      if (grant) await hooks.died?.({ kind: 'grant', grantId, accountId: grant.accountId, clientId: grant.clientId });
    }

    /**
     * Takes this model's records out of the grant's index and deletes them. When that killed
     * something of a grant that still exists, the grant's tokens died: reported with its owners,
     * read in the same round trip. If a concurrent Grant destroy (oidc-provider's revoke() runs
     * them together) got there first, that destroy reports the death; tokens of a grant already
     * gone were dead already, reported by whoever deleted the grant.
     */
    async revokeByGrantId(grantId: string): Promise<void> {
      const prefix = `${keys.prefix}${this.code}:{`;
      const code = `${this.code}:`;
      const [grant, members] = await store.run(async () => {
        const taken = await Promise.all([store.readPayload(keys.grant(grantId)), redis.latchTakeGrantMembers(keys.grantMembers(grantId), code, prefix)]);
        await store.deleteKeys(taken[1].map((member) => keys.grantMemberKey(member)));
        return taken;
      });
      if (grant && members.length > 0) await hooks.died?.({ kind: 'grant', grantId, accountId: grant.accountId, clientId: grant.clientId });
    }
  }

  return (model: string) => new RedisAdapter(model);
}
