import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { decodeFetch, isRevoked, type FetchedRecord } from '../../adapters/redis/record-state.js';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { Logger } from '../log/logger.js';
import type { PriorState, RevocationObserver } from '../revocation/revocation-observer.js';
import type { Actor, Revocations } from '../revocation/revocations.js';
import type { LogoutClients } from './logout-clients.js';
import type { LogoutMetrics } from './logout-metrics.js';
import type { FanoutEntry, LogoutQueue, LogoutTarget } from './logout-queue.js';

/** What a browser session record says about the apps signed in through it. */
interface SessionPayload {
  accountId?: string;
  authorizations?: Record<string, { sid?: string; grantId?: string }>;
}

/** A grant that ended: its hash (the id inside its key), client and account. */
interface EndedGrant {
  hash: string;
  clientId: string;
  sub: string;
}

/** RP-initiated logout is the only caller of oidc-provider's `Client#backchannelLogout` (end_session_confirm). */
const RP_LOGOUT: Actor = { actor: 'user', reason: 'signed out (RP-initiated logout)' };

/** The hash inside a record key `latch:g:{hash}`. */
const hashOf = (key: string) => key.slice(key.indexOf('{') + 1, key.indexOf('}'));

export interface BackchannelLogoutDependencies {
  store: RedisStore;
  queue: LogoutQueue;
  clients: LogoutClients;
  revocations: Revocations;
  metrics: LogoutMetrics;
  logger: Logger;
  /** Wakes this process's delivery loop. */
  wake(): void;
  /** How long a grant's `sid` is remembered (ms): as long as a grant or refresh token lives. */
  sidTtlMs: number;
}

/**
 * OIDC Back-Channel Logout 1.0 on every path: which RP sessions a revocation ended, computed when
 * it happens (before the cleanup job tombstones the sessions whose payloads name them), queued in
 * the same request (logout-queue.ts), delivered in the background (logout-delivery.ts).
 *
 * An RP session is named by the `sid` oidc-provider gave its client in the browser session
 * (`session.authorizations[client].sid`, also in the client's ID tokens):
 * - a **browser session** that ends (RP-initiated logout, devices page End, an account revoked or
 *   disabled) ends the RP session of every client signed in through it;
 * - a **grant** that ends (refresh-token reuse, RFC 7009, admin revoke-token, End, revoke-user,
 *   revoke-user-client, revoke-client) ends its client's RP session: the `sid` of the grant is
 *   remembered when its tokens are issued (`latch:g:{h}:sid`), also found in a browser session
 *   still holding it. When it is unknown, a revocation that ended everything of the user
 *   at that client sends `sub` alone (§2.4: every session of that user at the RP), and one grant's
 *   end sends nothing rather than end the user's other sessions there.
 *
 * Within one request (or one revocation), each (client, sub, sid) is queued once.
 */
export class BackchannelLogout implements RevocationObserver {
  readonly #deps: BackchannelLogoutDependencies;
  /** Per request: the targets it queued already (oidc-provider's logout reports a client twice: its session, then its grant). */
  readonly #queuedIn = new WeakMap<object, Set<string>>();

  constructor(deps: BackchannelLogoutDependencies) {
    this.#deps = deps;
  }

  /**
   * Drives oidc-provider's backchannelLogout feature: its `end_session` decides which clients of
   * the ending browser session to log out and calls `Client#backchannelLogout(sub, sid)` for each,
   * which here queues instead of sending (never a synchronous POST from inside the request); and
   * ID tokens carry `sid` for every client with a back-channel URI (§2.1), not only those that
   * require it. Also remembers each grant's `sid` as its tokens are issued.
   */
  install(provider: Provider): void {
    const client = provider.Client.prototype as unknown as {
      backchannelLogout(sub: string, sid: string): Promise<void>;
      includeSid(): boolean;
      backchannelLogoutUri?: string;
      clientId: string;
    };
    client.includeSid = function includeSid(this: typeof client) {
      return !!this.backchannelLogoutUri;
    };
    const queueRpLogout = (clientId: string, sub: string, sid: string) => this.#queue([{ client_id: clientId, sub, sid }], RP_LOGOUT, Provider.ctx);
    client.backchannelLogout = async function backchannelLogout(this: typeof client, sub: string, sid: string) {
      await queueRpLogout(this.clientId, sub, sid);
    };
    provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
      const token = ctx.oidc.entities.AccessToken as { accountId?: string; grantId?: string; sid?: string } | undefined;
      if (!token?.grantId || !token.sid || !(ctx.oidc.client as { backchannelLogoutUri?: string } | undefined)?.backchannelLogoutUri) return;
      this.#rememberSid(token.grantId, token.sid).catch((err: Error) => this.#deps.logger.warn({ err: err.message }, 'could not remember the sid of a grant'));
    });
  }

  async #rememberSid(grantId: string, sid: string): Promise<void> {
    const { store } = this.#deps;
    await store.run((redis) => redis.set(store.keys.grantSid(store.keys.grantHash(grantId)), sid, 'PX', this.#deps.sidTtlMs));
  }

  /** The remembered `sid` of each grant (by hash) that has one. */
  async #sidsOf(hashes: string[]): Promise<Record<string, string>> {
    const { store } = this.#deps;
    // Each grant's key is its own slot: separate commands, auto-pipelined.
    const sids = await store.run((redis) => Promise.all(hashes.map((hash) => redis.get(store.keys.grantSid(hash)))));
    return Object.fromEntries(hashes.flatMap((hash, i) => (sids[i] ? [[hash, sids[i]!]] : [])));
  }

  // ---- RevocationObserver --------------------------------------------------------------------

  async beforeAccountEpoch(sub: string, clientId?: string): Promise<PriorState> {
    const { store } = this.#deps;
    const [disabled, epoch, clientEpoch] = await store.run((redis) => redis.hmget(store.keys.account(sub), 'disabled', 'epoch', clientId ? `ce:${clientId}` : 'epoch'));
    return { disabled: disabled === '1', epoch: Number((clientId ? clientEpoch : epoch) || 0) };
  }

  /**
   * Everything of the account the epoch killed: each record that is dead now and was alive under
   * the state before (so records an earlier revocation had killed are not logged out twice).
   */
  async accountEpoch(sub: string, clientId: string | undefined, prior: PriorState, by: Actor): Promise<void> {
    const { store } = this.#deps;
    const { keys } = store;
    const [sessionKeys, grantKeys] = await store.run(async (redis) => {
      const reply = await redis.pipeline().zrange(keys.accountSessions(sub), '0', '-1').zrange(keys.accountGrants(sub), '0', '-1').exec();
      return [(reply?.[0]?.[1] as string[]) ?? [], (reply?.[1]?.[1] as string[]) ?? []];
    });
    const [sessions, grants] = await store.run(() => Promise.all([this.#fetchAll(sessionKeys), this.#fetchAll(grantKeys)]));
    const before = (record: FetchedRecord): FetchedRecord =>
      clientId
        ? { ...record, account: { ...record.account, clientEpoch: prior.epoch } }
        : { ...record, account: { ...record.account, disabled: prior.disabled, epoch: prior.epoch } };
    const killed = (record: FetchedRecord | undefined): record is FetchedRecord => !!record && isRevoked(record) && !isRevoked(before(record));

    // An account+client epoch ends no browser session; their payloads still name the grants' sids.
    const ended = sessions.filter((r) => !clientId && killed(r)).map((r) => JSON.parse(r!.payload) as SessionPayload);
    const alive = sessions.filter((r) => !!r && !isRevoked(r)).map((r) => JSON.parse(r!.payload) as SessionPayload);
    const endedGrants: EndedGrant[] = [];
    grants.forEach((record, i) => {
      if (killed(record) && (!clientId || record.clientId === clientId)) endedGrants.push({ hash: hashOf(grantKeys[i]!), clientId: record.clientId, sub });
    });
    const sids = await this.#sidsOf(endedGrants.map((g) => g.hash));
    await this.#queue(await this.#targets(ended, endedGrants, [...ended, ...alive], sids, 'sub'), by);
  }

  async beforeClientEpoch(clientId: string): Promise<PriorState> {
    const { store } = this.#deps;
    const epoch = await store.run((redis) => redis.hget(store.keys.clientEpochs(), clientId));
    return { disabled: false, epoch: Number(epoch || 0) };
  }

  /** A client with a back-channel URI: its fan-out (and cleanup) is queued, to run durably in the delivery loop. */
  async clientEpoch(clientId: string, epoch: number, prior: PriorState, job: string, by: Actor): Promise<boolean> {
    if (!(await this.#deps.clients.find(clientId))) return false;
    await this.#deps.queue.enqueueFanout({ client_id: clientId, epoch, previous_epoch: prior.epoch, job, actor: by.actor, reason: by.reason });
    this.#deps.wake();
    return true;
  }

  /**
   * Runs a queued client fan-out: the client's cleanup job, which hands over each batch of grants
   * before deleting it; each grant the client's epoch killed gets its logout queued first. Taken
   * over after a crash, it resumes where the grants index stands (done grants have left it).
   */
  async runFanout(entry: FanoutEntry, keepAlive: () => Promise<void>): Promise<void> {
    const { store, revocations } = this.#deps;
    const by: Actor = { actor: entry.actor, reason: entry.reason };
    await revocations.cleanUpClient(entry.client_id, entry.epoch, entry.job, async (grantKeys) => {
      const records = await store.run(() => this.#fetchAll(grantKeys));
      const ended: EndedGrant[] = [];
      records.forEach((record, i) => {
        if (!record || !isRevoked(record) || isRevoked({ ...record, clientEpoch: entry.previous_epoch })) return;
        const sub = (JSON.parse(record.payload) as { accountId?: string }).accountId;
        if (sub) ended.push({ hash: hashOf(grantKeys[i]!), clientId: record.clientId, sub });
      });
      const sids = await this.#sidsOf(ended.map((g) => g.hash));
      await this.#queue(await this.#targets([], ended, [], sids, 'sub'), by);
      await keepAlive();
    });
  }

  async beforeDeviceEnd(sub: string, grantKey: string, clientId: string | undefined, sessionKeys: string[]): Promise<(by: Actor) => Promise<void>> {
    const { store } = this.#deps;
    const [payloads, sids] = await Promise.all([store.run(() => Promise.all(sessionKeys.map((key) => store.readPayload(key)))), this.#sidsOf([hashOf(grantKey)])]);
    const sessions = payloads.filter(Boolean) as SessionPayload[];
    const grants = clientId ? [{ hash: hashOf(grantKey), clientId, sub }] : [];
    const targets = await this.#targets(sessions, grants, sessions, sids, 'skip');
    return (by) => this.#queue(targets, by);
  }

  async grantEnded(grant: { grantId: string; clientId?: string; sub?: string }, by: Actor, request?: object): Promise<void> {
    const { clientId, sub } = grant;
    if (!clientId || !sub || !(await this.#deps.clients.find(clientId))) return;
    const hash = this.#deps.store.keys.grantHash(grant.grantId);
    const sids = await this.#sidsOf([hash]);
    const holders = sids[hash] ? [] : await this.#liveSessions(sub);
    await this.#queue(await this.#targets([], [{ hash, clientId, sub }], holders, sids, 'skip'), by, request);
  }

  // ---- targets -------------------------------------------------------------------------------

  /**
   * The RP sessions that ended: every client with a back-channel URI signed in through an `ended`
   * browser session, and each ended grant's client with the grant's `sid` (from `sids`, by grant
   * hash, else from a session in `holders` whose authorization holds the grant). A grant whose sid
   * is unknown gets `sub` alone (`unknown: 'sub'`, when everything of the user there ended) or
   * nothing (`'skip'`, one grant).
   */
  async #targets(ended: SessionPayload[], grants: EndedGrant[], holders: SessionPayload[], sids: Record<string, string>, unknown: 'sub' | 'skip'): Promise<LogoutTarget[]> {
    const { keys } = this.#deps.store;
    const candidates: LogoutTarget[] = [];
    for (const session of ended) {
      for (const [clientId, authorization] of Object.entries(session.authorizations ?? {})) {
        if (session.accountId && authorization.sid) candidates.push({ client_id: clientId, sub: session.accountId, sid: authorization.sid });
      }
    }
    const held = new Map<string, string>();
    for (const session of holders) {
      for (const authorization of Object.values(session.authorizations ?? {})) {
        if (authorization.grantId && authorization.sid) held.set(keys.grantHash(authorization.grantId), authorization.sid);
      }
    }
    for (const grant of grants) {
      const sid = sids[grant.hash] ?? held.get(grant.hash);
      if (sid) candidates.push({ client_id: grant.clientId, sub: grant.sub, sid });
      else if (unknown === 'sub') candidates.push({ client_id: grant.clientId, sub: grant.sub });
    }
    const clients = await this.#deps.clients.findAll(candidates.map((t) => t.client_id));
    return candidates.filter((t) => clients.has(t.client_id));
  }

  /** The account's browser sessions that are alive (their payloads). */
  async #liveSessions(sub: string): Promise<SessionPayload[]> {
    const { store } = this.#deps;
    const keys = await store.run((redis) => redis.zrange(store.keys.accountSessions(sub), '0', '-1'));
    const records = await store.run(() => this.#fetchAll(keys));
    return records.filter((r) => !!r && !isRevoked(r)).map((r) => JSON.parse(r!.payload) as SessionPayload);
  }

  /** Each key's record with its revocation state (the FETCH script: the kill switch's own read). */
  #fetchAll(keys: string[]): Promise<Array<FetchedRecord | undefined>> {
    const { store } = this.#deps;
    return Promise.all(keys.map(async (key) => decodeFetch(await store.fetch([key]))));
  }

  /** Queues `targets` (each (client, sub, sid) once per call, and once per `request`), and wakes the loop. */
  async #queue(targets: LogoutTarget[], by: Actor, request?: object): Promise<void> {
    let seen = request ? this.#queuedIn.get(request) : undefined;
    if (request && !seen) this.#queuedIn.set(request, (seen = new Set()));
    const fresh = new Map<string, LogoutTarget>();
    for (const target of targets) {
      const key = `${target.client_id}\0${target.sub}\0${target.sid ?? ''}`;
      if (seen?.has(key) || fresh.has(key)) continue;
      seen?.add(key);
      fresh.set(key, target);
    }
    if (fresh.size === 0) return;
    const entries = await this.#deps.queue.enqueue([...fresh.values()], by);
    this.#deps.metrics.queued.inc(entries.length);
    this.#deps.wake();
  }
}
