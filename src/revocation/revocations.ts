import { randomBytes } from 'node:crypto';
import type { Death } from '../../adapters/redis/redis-adapter.js';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import { decodeFetch, isRevoked } from '../../adapters/redis/record-state.js';
import { unpackTokenPayload } from '../../adapters/redis/token-payload.js';
import type { Logger } from '../log/logger.js';
import { EventPublisher, tokenSha256, type RevocationScope } from './events.js';
import type { PriorState, RevocationObserver } from './revocation-observer.js';

export interface Actor {
  /** Who: an admin client id, `user` (devices page) or `latch` (automatic response). */
  actor: string;
  reason: string;
}

export interface RevocationResult {
  /** The epoch (ms, Redis clock) from which everything older is dead, when the revocation used one. */
  epoch?: number;
  grants: number;
  sessions: number;
  tokens: number;
  /** Background cleanup that deletes the dead records (progress at GET /admin/jobs/{id}). */
  job?: string;
}

export interface Device {
  /** The id shown in session lists (a hash of the grant; not a credential). */
  id: string;
  client_id: string;
  created_at?: number;
  last_used_at?: number;
  ip?: string;
  place?: string;
  user_agent?: string;
}

interface DeviceMeta {
  created_at?: number;
  last_used_at?: number;
  ip?: string;
  place?: string;
  user_agent?: string;
}

const TOKEN_MODELS = ['AccessToken', 'RefreshToken', 'ClientCredentials'] as const;

/**
 * Every way Latch kills access. The revocation itself is one write (an epoch stamped with Redis's
 * clock, or one grant deleted), so its cost does not grow with the number of tokens; the FETCH
 * script makes everything born before the epoch read as absent on the very next request. Dead
 * records are deleted afterwards by a background job (they would also expire by TTL).
 */
export class Revocations {
  readonly #store: RedisStore;
  readonly #events: EventPublisher;
  readonly #logger: Logger;
  /** Per request: the grants whose death it already published (oidc-provider kills one grant several times over). */
  readonly #published = new WeakMap<object, Map<string, Promise<void>>>();
  /** Back-channel logout: told what each revocation ended (revocation-observer.ts). */
  #observer: RevocationObserver | undefined;

  constructor(store: RedisStore, events: EventPublisher, logger: Logger) {
    this.#store = store;
    this.#events = events;
    this.#logger = logger;
  }

  get events(): EventPublisher {
    return this.#events;
  }

  /** Tells `observer` what every revocation from now on ends (set once, at assembly). */
  observe(observer: RevocationObserver): void {
    this.#observer = observer;
  }

  /** Log out of all devices: every token, refresh token, session and pending code of the account. */
  async revokeAccount(sub: string, by: Actor): Promise<RevocationResult> {
    const prior = await this.#observer?.beforeAccountEpoch(sub);
    const epoch = await this.#store.run(() => this.#store.stampEpoch(this.#store.keys.account(sub), 'epoch'));
    return this.#afterEpoch('account', sub, undefined, epoch, by, prior);
  }

  /** One client for one user (e.g. "remove this app's access"). */
  async revokeAccountClient(sub: string, clientId: string, by: Actor): Promise<RevocationResult> {
    const prior = await this.#observer?.beforeAccountEpoch(sub, clientId);
    const epoch = await this.#store.run(() => this.#store.stampEpoch(this.#store.keys.account(sub), `ce:${clientId}`));
    return this.#afterEpoch('account-client', sub, clientId, epoch, by, prior);
  }

  /** Every token of a client, for every user (a compromised client). */
  async revokeClient(clientId: string, by: Actor): Promise<RevocationResult> {
    const { keys } = this.#store;
    const prior = await this.#observer?.beforeClientEpoch(clientId);
    const epoch = await this.#store.run(() => this.#store.stampEpoch(keys.clientEpochs(), clientId));
    const [grants, tokens] = await this.#store.run(async (redis) => {
      const reply = await redis.pipeline().zcard(keys.clientGrants(clientId)).zcard(keys.clientTokens(clientId)).exec();
      return [Number(reply?.[0]?.[1] ?? 0), Number(reply?.[1]?.[1] ?? 0)];
    });
    await this.#events.publish({ scope: 'client', client_id: clientId, ...by });
    const job = await this.#createJob(grants + tokens);
    // With back-channel logout, the observer runs the cleanup itself (durably): each grant's
    // logout is queued before the grant is deleted.
    const observed = prior !== undefined && (await this.#observer!.clientEpoch(clientId, epoch, prior, job, by));
    if (!observed) this.cleanUpClient(clientId, epoch, job).catch(() => {});
    return { epoch, grants, sessions: 0, tokens, job };
  }

  /**
   * The cleanup after a client's epoch, as job `job`: deletes what the epoch killed (grants and
   * grant-less tokens issued after it are alive), calling `beforeGrants` with each batch of grant
   * keys before deleting them. Resumable: what is done has left the indices. Rejects when it stops.
   */
  cleanUpClient(clientId: string, epoch: number, job: string, beforeGrants?: (grantKeys: string[]) => Promise<void>): Promise<void> {
    const { keys } = this.#store;
    return this.#runJob(job, async (progress) => {
      await this.#drain(keys.clientGrants(clientId), (grantKey) => this.#store.deleteGrant(grantKey), progress, epoch, beforeGrants);
      await this.#drain(keys.clientTokens(clientId), (tokenKey) => this.#store.redis.del(tokenKey), progress, epoch);
    });
  }

  /** Disabling kills everything now (an epoch) and refuses logins until enabled again. */
  async disableAccount(sub: string, by: Actor): Promise<RevocationResult> {
    const { keys } = this.#store;
    const prior = await this.#observer?.beforeAccountEpoch(sub);
    await this.#store.run((redis) => redis.hset(keys.account(sub), 'disabled', '1'));
    const epoch = await this.#store.run(() => this.#store.stampEpoch(keys.account(sub), 'epoch'));
    return this.#afterEpoch('account-disabled', sub, undefined, epoch, by, prior);
  }

  /**
   * Enabling lets the user log in again; tokens from before the disable stay dead (the epoch stays).
   * Published as a security event (`account_enabled`, docs/events.md): it revokes nothing.
   */
  async enableAccount(sub: string, by: Actor): Promise<void> {
    await this.#store.run((redis) => redis.hset(this.#store.keys.account(sub), 'disabled', '0'));
    await this.#events.publish({ type: 'security', kind: 'account_enabled', sub, ...by });
  }

  /**
   * One device session: its grant dies with every token issued under it, and so does the browser
   * session that holds the grant, or that browser would re-authorize without the password at once.
   */
  async revokeDevice(sub: string, deviceId: string, by: Actor): Promise<RevocationResult | undefined> {
    const { keys } = this.#store;
    if (!/^[A-Za-z0-9_-]{22}$/.test(deviceId)) return undefined;
    const grantKey = keys.recordKey('g', deviceId);
    const owner = await this.#store.run((redis) => redis.zscore(keys.accountGrants(sub), grantKey));
    if (owner === null) return undefined;
    const clientId = (await this.#store.run(() => this.#store.readPayload(grantKey)))?.clientId;
    const sessions = await this.#store.run(() => this.#sessionsHolding(sub, deviceId));
    const ended = await this.#observer?.beforeDeviceEnd(sub, grantKey, clientId, sessions);
    const tokens = await this.#store.run(() => this.#store.deleteGrant(grantKey));
    await this.#store.run(() => Promise.all(sessions.map((key) => this.#store.deleteSession(key))));
    await this.#events.publish({ scope: 'session', sub, client_id: clientId, session_id: deviceId, ...by });
    await ended?.(by);
    return { grants: 1, sessions: sessions.length, tokens };
  }

  /** The account's browser sessions whose authorizations hold the grant `grantHash` (a device id). */
  async #sessionsHolding(sub: string, grantHash: string): Promise<string[]> {
    const { keys } = this.#store;
    const sessionKeys = await this.#store.redis.zrange(keys.accountSessions(sub), '0', '-1');
    const payloads = await Promise.all(sessionKeys.map((key) => this.#store.readPayload(key)));
    return sessionKeys.filter((_, i) => {
      const session = payloads[i] as { accountId?: string; authorizations?: Record<string, { grantId?: string }> } | undefined;
      if (session?.accountId !== sub) return false;
      return Object.values(session.authorizations ?? {}).some((a) => a.grantId !== undefined && keys.grantHash(a.grantId) === grantHash);
    });
  }

  /**
   * One token by value. Like RFC 7009, a user's token takes its whole grant with it (an access
   * token alone would be re-minted by the grant's refresh token), so the event names the grant's
   * subject and client (a cache drops the grant's other tokens too) and the token's hash.
   */
  async revokeToken(token: string, by: Actor): Promise<RevocationResult | undefined> {
    const { keys } = this.#store;
    const candidates = keys.recordKeys(TOKEN_MODELS, token);
    const record = decodeFetch(await this.#store.run(() => this.#store.fetch(candidates)));
    if (!record || isRevoked(record)) return undefined;
    const payload = { ...(unpackTokenPayload(record.payload, record.grantPayload) as { grantId?: string; accountId?: string }), clientId: record.clientId || undefined };
    const tokens = payload.grantId
      ? await this.#store.run(() => this.#store.deleteGrant(keys.grant(payload.grantId!)))
      : await this.#store.run(async (redis) => {
          await redis.del(candidates[record.index]!);
          return 1;
        });
    const scope = payload.grantId ? 'grant' : 'token';
    await this.#events.publish({ scope, sub: payload.accountId, client_id: payload.clientId, token_sha256: tokenSha256(token), ...by });
    if (payload.grantId) await this.#observer?.grantEnded({ grantId: payload.grantId, clientId: payload.clientId, sub: payload.accountId }, by);
    return { grants: payload.grantId ? 1 : 0, sessions: 0, tokens };
  }

  /** Publishes a revocation that is not a death (the account's roles changed: cached scopes are stale). */
  async announce(scope: RevocationScope, fields: { sub?: string; client_id?: string; token_sha256?: string }, by: Actor): Promise<void> {
    await this.#events.publish({ scope, ...fields, ...by });
  }

  /**
   * Publishes a death oidc-provider caused (the adapter's `died` hook: RFC 7009, reuse, logout, any
   * route). Within one `request`, a grant is published once: oidc-provider's revoke() kills it once
   * per model, concurrently, and its tokens' deaths after the grant's are already covered by it.
   * (Latch's own revocations above publish for themselves; their background cleanup never does:
   * those records were dead, and published, from the moment the epoch was stamped.)
   */
  async publishDeath(death: Death, by: Actor, request?: object): Promise<void> {
    const published = request ? this.#publishedIn(request) : undefined;
    if (death.kind === 'token') {
      if (death.grantId && published?.has(death.grantId)) return published.get(death.grantId);
      await this.#events.publish({ scope: 'token', sub: death.accountId, client_id: death.clientId, token_sha256: tokenSha256(death.token), ...by });
      return;
    }
    const pending = published?.get(death.grantId);
    if (pending) return pending;
    const publishing = this.#events
      .publish({ scope: 'grant', sub: death.accountId, client_id: death.clientId, ...by })
      .then(() => this.#observer?.grantEnded({ grantId: death.grantId, clientId: death.clientId, sub: death.accountId }, by, request));
    published?.set(death.grantId, publishing);
    return publishing;
  }

  #publishedIn(request: object): Map<string, Promise<void>> {
    let published = this.#published.get(request);
    if (!published) this.#published.set(request, (published = new Map()));
    return published;
  }

  /** The account's live device sessions: one per grant (a client on a device), newest first. */
  async devices(sub: string): Promise<Device[]> {
    const { keys } = this.#store;
    const grantKeys = await this.#store.run((redis) => redis.zrevrangebyscore(keys.accountGrants(sub), '+inf', String(Date.now())));
    if (grantKeys.length === 0) return [];
    const metas = await this.#store.run((redis) => redis.hmget(keys.accountDevices(sub), ...grantKeys));
    const records = await this.#store.run(() => Promise.all(grantKeys.map((key) => this.#store.fetch([key]))));
    const devices: Device[] = [];
    grantKeys.forEach((grantKey, i) => {
      const record = decodeFetch(records[i]);
      if (!record || isRevoked(record)) return;
      const grant = { ...(JSON.parse(record.payload) as { iat?: number }), clientId: record.clientId };
      const meta = metas[i] ? (JSON.parse(metas[i]!) as DeviceMeta) : {};
      devices.push({
        id: grantKey.slice(grantKey.indexOf('{') + 1, -1),
        client_id: grant.clientId,
        created_at: meta.created_at ?? (grant.iat ? grant.iat * 1000 : undefined),
        last_used_at: meta.last_used_at ?? meta.created_at,
        ip: meta.ip,
        place: meta.place,
        user_agent: meta.user_agent,
      });
    });
    return devices;
  }

  /** The id a session list shows for a grant (the hash inside its key; not a credential). */
  deviceId(grantId: string): string {
    const key = this.#store.keys.grant(grantId);
    return key.slice(key.indexOf('{') + 1, -1);
  }

  /** Records where and how a grant (a device session) was created or last used. */
  async touchDevice(sub: string, grantId: string, meta: DeviceMeta): Promise<void> {
    const { keys } = this.#store;
    const field = keys.grant(grantId);
    const devices = keys.accountDevices(sub);
    await this.#store.run(async (redis) => {
      const previous = await redis.hget(devices, field);
      const merged = { ...(previous ? (JSON.parse(previous) as DeviceMeta) : {}), ...meta };
      await redis.pipeline().hset(devices, field, JSON.stringify(merged)).expire(devices, 90 * 24 * 3600).exec();
    });
  }

  async #afterEpoch(scope: RevocationScope, sub: string, clientId: string | undefined, epoch: number, by: Actor, prior?: PriorState): Promise<RevocationResult> {
    const { keys } = this.#store;
    const [grantKeys, sessions] = await this.#store.run(async (redis) => {
      const reply = await redis.pipeline().zrange(keys.accountGrants(sub), '0', '-1').zcard(keys.accountSessions(sub)).exec();
      return [(reply?.[0]?.[1] as string[]) ?? [], Number(reply?.[1]?.[1] ?? 0)];
    });
    const counts = await this.#store.run(async (redis) => {
      // Each grant's index is its own slot: separate commands, auto-pipelined.
      return Promise.all(grantKeys.map((key) => redis.zcard(`${key}:tokens`)));
    });
    const tokens = counts.reduce((a, b) => a + b, 0);
    await this.#events.publish({ scope, sub, ...(clientId ? { client_id: clientId } : {}), ...by });
    // Before the job below tombstones the sessions: their payloads name the apps' sessions (sid).
    if (prior) await this.#observer!.accountEpoch(sub, clientId, prior, by);
    const job = await this.#startJob(grantKeys.length + (clientId ? 0 : sessions), async (progress) => {
      await this.#drain(keys.accountGrants(sub), async (grantKey) => {
        if (clientId) {
          const grant = await this.#store.readPayload(grantKey);
          if (grant && grant.clientId !== clientId) return false;
        }
        await this.#store.deleteGrant(grantKey);
        return true;
      }, progress, epoch);
      if (!clientId) await this.#drain(keys.accountSessions(sub), (key) => this.#store.deleteSession(key), progress, epoch);
    });
    return { epoch, grants: grantKeys.length, sessions: clientId ? 0 : sessions, tokens, job };
  }

  /**
   * Deletes the members of an index in batches. With `epoch`, only records born at or before it:
   * a login that happened after the revocation keeps its grant.
   */
  async #drain(index: string, remove: (key: string) => Promise<unknown>, progress: () => Promise<void>, epoch?: number, beforeBatch?: (keys: string[]) => Promise<void>): Promise<void> {
    const redis = this.#store.redis;
    let cursor = 0;
    for (;;) {
      const batch = await redis.zrange(index, String(cursor), String(cursor + 199));
      if (batch.length === 0) return;
      const births = await Promise.all(batch.map((key) => this.#store.readBirth(key)));
      await beforeBatch?.(batch.filter((_, i) => epoch === undefined || births[i] === undefined || births[i]! <= epoch));
      let kept = 0;
      for (let i = 0; i < batch.length; i++) {
        const born = births[i];
        if (epoch !== undefined && born !== undefined && born > epoch) {
          kept++;
          continue;
        }
        const removed = await remove(batch[i]!);
        if (removed === false) kept++;
        else await redis.zrem(index, batch[i]!);
        await progress();
      }
      cursor += kept;
    }
  }

  /** Runs `work` in the background, recording progress in Redis for the admin API and CLI. */
  async #startJob(total: number, work: (progress: () => Promise<void>) => Promise<void>): Promise<string> {
    const id = await this.#createJob(total);
    this.#runJob(id, work).catch(() => {});
    return id;
  }

  async #createJob(total: number): Promise<string> {
    const id = randomBytes(12).toString('base64url');
    const key = this.#store.keys.job(id);
    await this.#store.run((redis) => redis.pipeline().hset(key, { total, done: 0, state: 'running' }).expire(key, 86_400).exec());
    return id;
  }

  /** Runs job `id`'s `work`, recording its progress and end; rejects (after recording it) when the work fails. */
  async #runJob(id: string, work: (progress: () => Promise<void>) => Promise<void>): Promise<void> {
    const key = this.#store.keys.job(id);
    const progress = async () => {
      await this.#store.redis.hincrby(key, 'done', 1);
    };
    try {
      await work(progress);
      await this.#store.redis.hset(key, 'state', 'done');
    } catch (err) {
      this.#logger.warn({ job: id, err: (err as Error).message }, 'revocation cleanup stopped; dead records will expire by TTL');
      await this.#store.redis.hset(key, 'state', 'failed').catch(() => 0);
      throw err;
    }
  }

  async job(id: string): Promise<{ total: number; done: number; state: string } | undefined> {
    const fields = await this.#store.run((redis) => redis.hgetall(this.#store.keys.job(id)));
    if (!fields.state) return undefined;
    return { total: Number(fields.total), done: Number(fields.done), state: fields.state };
  }
}
