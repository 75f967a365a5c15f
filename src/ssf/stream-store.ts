import type { Result } from 'ioredis';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import { SSF_ACK, SSF_CREATE, SSF_ENQUEUE_ONE, SSF_FANOUT, SSF_IDLE, SSF_RENEW } from '../../adapters/redis/ssf-scripts.js';
import type { Principals } from './subjects.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    latchSsfFanout(streams: string, ...args: string[]): Result<number[], Context>;
    latchSsfEnqueueOne(stream: string, ...args: string[]): Result<number, Context>;
    latchSsfAck(queue: string, jtis: string, ...ids: string[]): Result<number, Context>;
    latchSsfIdle(queue: string, due: string, id: string): Result<number, Context>;
    latchSsfRenew(lease: string, owner: string, ms: string): Result<number, Context>;
    latchSsfCreate(streams: string, receiver: string, stream: string, active: string, ...args: string[]): Result<number, Context>;
  }
}

export type StreamStatus = 'enabled' | 'paused' | 'disabled';
export type DeliveryMethod = 'push' | 'poll';

/** A stream as stored (the hash `latch:{ssf}:s:<id>`, adapters/redis/README.md). */
export interface StreamRecord {
  id: string;
  clientId: string;
  method: DeliveryMethod;
  /** Push: the receiver's endpoint. */
  endpointUrl?: string;
  /** Push: the receiver's `authorization_header`, sealed (AES-256-GCM) at rest. */
  sealedAuthorization?: string;
  /** What the receiver asked for (absent: never given). */
  eventsRequested?: string[];
  eventsDelivered: string[];
  description?: string;
  status: StreamStatus;
  reason?: string;
  /** Disabled by Latch because the receiver fell behind the queue bound (its backlog still drains). */
  lagged: boolean;
  /** Events the stream did not take while lagged. */
  lost: number;
  subjects: 'ALL' | 'NONE';
  createdAt: number;
  /** Consecutive failed pushes (backoff). */
  attempts: number;
}

/**
 * Whether a stream's queue may be handed out (SSF §8.1.2): enabled, or draining what it held
 * before Latch disabled it for lag (its stream-updated notice last). Paused and disabled hold.
 */
export const transmits = (stream: StreamRecord) => stream.status === 'enabled' || (stream.status === 'disabled' && stream.lagged);

export interface QueuedSet {
  entryId: string;
  jti: string;
  claims: string;
}

/** The events of one Latch event, as the fan-out script takes them. */
export interface FanoutEvent {
  type: string;
  seed: string;
  claims: string;
  emailClaims: string;
}

function decode(id: string, h: Record<string, string>): StreamRecord | undefined {
  if (!h.client_id) return undefined;
  return {
    id,
    clientId: h.client_id,
    method: h.method === 'push' ? 'push' : 'poll',
    ...(h.endpoint_url ? { endpointUrl: h.endpoint_url } : {}),
    ...(h.auth ? { sealedAuthorization: h.auth } : {}),
    ...(h.events_requested ? { eventsRequested: JSON.parse(h.events_requested) as string[] } : {}),
    eventsDelivered: h.events ? h.events.split(' ') : [],
    ...(h.description ? { description: h.description } : {}),
    status: (h.status as StreamStatus) ?? 'enabled',
    ...(h.reason ? { reason: h.reason } : {}),
    lagged: h.lagged === '1',
    lost: Number(h.lost ?? 0),
    subjects: h.subjects === 'NONE' ? 'NONE' : 'ALL',
    createdAt: Number(h.created_at ?? 0),
    attempts: Number(h.attempts ?? 0),
  };
}

/** The receiver-supplied part of a stream, as the hash stores it. */
export interface StreamSettings {
  method: DeliveryMethod;
  endpointUrl?: string;
  sealedAuthorization?: string;
  eventsRequested?: string[];
  eventsDelivered: string[];
  description?: string;
}

function settingsFields(s: StreamSettings): Record<string, string> {
  return {
    method: s.method,
    endpoint_url: s.endpointUrl ?? '',
    auth: s.sealedAuthorization ?? '',
    events_requested: s.eventsRequested ? JSON.stringify(s.eventsRequested) : '',
    events: s.eventsDelivered.join(' '),
    description: s.description ?? '',
  };
}

/**
 * Streams, their subjects and their queues in Redis. Every key is in the `{ssf}` slot
 * (keys.ts), so multi-key steps are scripts or MULTI on one node, on a Cluster too. A queue is a
 * Redis Stream of `{j: jti, c: claims JSON}` entries, oldest first; an entry leaves it only when
 * its receiver has it (a push answered 2xx, a poll acknowledged it) or refused it.
 */
export class StreamStore {
  readonly #store: RedisStore;

  constructor(store: RedisStore) {
    this.#store = store;
    const { redis } = store;
    redis.defineCommand('latchSsfFanout', { numberOfKeys: 1, lua: SSF_FANOUT });
    redis.defineCommand('latchSsfEnqueueOne', { numberOfKeys: 1, lua: SSF_ENQUEUE_ONE });
    redis.defineCommand('latchSsfAck', { numberOfKeys: 2, lua: SSF_ACK });
    redis.defineCommand('latchSsfIdle', { numberOfKeys: 2, lua: SSF_IDLE });
    redis.defineCommand('latchSsfRenew', { numberOfKeys: 1, lua: SSF_RENEW });
    redis.defineCommand('latchSsfCreate', { numberOfKeys: 4, lua: SSF_CREATE });
  }

  get #keys() {
    return this.#store.keys;
  }

  /** Creates a stream (enabled); false when its receiver already has `limit` streams. */
  async create(id: string, clientId: string, settings: StreamSettings, subjects: 'ALL' | 'NONE', limit: number): Promise<boolean> {
    const k = this.#keys;
    const now = Date.now();
    const fields = { client_id: clientId, ...settingsFields(settings), status: 'enabled', reason: '', lagged: '0', lost: '0', subjects, created_at: String(now), attempts: '0' };
    const created = await this.#store.run((redis) =>
      redis.latchSsfCreate(k.ssfStreams(), k.ssfReceiver(clientId), k.ssfStream(id), k.ssfActive(), id, String(limit), String(now), ...Object.entries(fields).flat()),
    );
    return created === 1;
  }

  async get(id: string): Promise<StreamRecord | undefined> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return undefined;
    return decode(id, await this.#store.run((redis) => redis.hgetall(this.#keys.ssfStream(id))));
  }

  /** The receiver's streams (those whose hash vanished are dropped from its set). */
  async list(clientId: string): Promise<StreamRecord[]> {
    const ids = (await this.#store.run((redis) => redis.smembers(this.#keys.ssfReceiver(clientId)))).sort();
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.filter((r): r is StreamRecord => r !== undefined && r.clientId === clientId);
  }

  /** Every stream id (the delivery sweep, metrics). */
  async ids(): Promise<string[]> {
    return this.#store.run((redis) => redis.smembers(this.#keys.ssfStreams()));
  }

  async replaceSettings(id: string, settings: StreamSettings): Promise<void> {
    await this.#store.run((redis) => redis.hset(this.#keys.ssfStream(id), settingsFields(settings)));
  }

  async delete(stream: StreamRecord): Promise<void> {
    const k = this.#keys;
    const { id } = stream;
    await this.#store.run((redis) =>
      redis
        .multi()
        .del(k.ssfStream(id), k.ssfSubjects(id), k.ssfComplexSubjects(id), k.ssfQueue(id), k.ssfJtis(id), k.ssfVerifyGate(id))
        .srem(k.ssfStreams(), id)
        .srem(k.ssfReceiver(stream.clientId), id)
        .zrem(k.ssfDue(), id)
        .zrem(k.ssfActive(), id)
        .exec(),
    );
  }

  /**
   * SSF §8.1.2: `disabled` holds nothing (the queue goes), `paused` holds, `enabled` delivers
   * (a push stream with a backlog is due at once). A status set by the receiver ends a lag.
   */
  async setStatus(stream: StreamRecord, status: StreamStatus, reason: string): Promise<void> {
    const k = this.#keys;
    const { id } = stream;
    await this.#store.run(async (redis) => {
      const tx = redis.multi().hset(k.ssfStream(id), { status, reason, lagged: '0', attempts: '0' });
      if (status === 'disabled') tx.del(k.ssfQueue(id), k.ssfJtis(id)).zrem(k.ssfDue(), id);
      if (status === 'enabled' && stream.method === 'push') tx.zadd(k.ssfDue(), Date.now(), id);
      if (status === 'enabled') tx.publish(k.ssfWake(), id);
      await tx.exec();
    });
  }

  /** Lists a subject (add in a NONE stream, remove in an ALL stream) or unlists it. */
  async listSubject(id: string, subject: { simple: string[] } | { complex: string }, listed: boolean): Promise<void> {
    const k = this.#keys;
    await this.#store.run(async (redis) => {
      if ('complex' in subject) {
        await (listed ? redis.sadd(k.ssfComplexSubjects(id), subject.complex) : redis.srem(k.ssfComplexSubjects(id), subject.complex));
      } else {
        await (listed ? redis.sadd(k.ssfSubjects(id), ...subject.simple) : redis.srem(k.ssfSubjects(id), ...subject.simple));
      }
    });
  }

  async subjectCount(id: string): Promise<{ simple: number; complex: number }> {
    const k = this.#keys;
    const [simple, complex] = await this.#store.run((redis) => Promise.all([redis.scard(k.ssfSubjects(id)), redis.scard(k.ssfComplexSubjects(id))]));
    return { simple, complex };
  }

  /** SSF `inactivity_timeout`: the receiver did something with the stream. */
  async touch(id: string): Promise<void> {
    await this.#store.run((redis) => redis.zadd(this.#keys.ssfActive(), 'XX', Date.now(), id));
  }

  /** Drops an id whose stream hash is gone from the indices. */
  async forget(id: string): Promise<void> {
    const k = this.#keys;
    await this.#store.run((redis) => redis.multi().srem(k.ssfStreams(), id).zrem(k.ssfActive(), id).zrem(k.ssfDue(), id).exec());
  }

  /** Streams whose receiver has done nothing since `before` (ms). */
  async inactiveSince(before: number, limit = 100): Promise<string[]> {
    return this.#store.run((redis) => redis.zrangebyscore(this.#keys.ssfActive(), '-inf', String(before), 'LIMIT', 0, limit));
  }

  /** True at most once per `intervalMs` per stream (`min_verification_interval`). */
  async claimVerification(id: string, intervalMs: number): Promise<boolean> {
    if (intervalMs <= 0) return true;
    return (await this.#store.run((redis) => redis.set(this.#keys.ssfVerifyGate(id), '1', 'PX', intervalMs, 'NX'))) === 'OK';
  }

  /** Queues one SET for one stream (verification): queued, the stream is gone, or its queue is at `limit`. */
  async enqueueOne(id: string, jti: string, claims: string, limit: number): Promise<'queued' | 'gone' | 'full'> {
    const k = this.#keys;
    const done = await this.#store.run((redis) => redis.latchSsfEnqueueOne(k.ssfStream(id), jti, claims, k.ssfDue(), k.ssfWake(), String(Date.now()), String(limit)));
    return done === 1 ? 'queued' : done === 0 ? 'gone' : 'full';
  }

  /** One Latch event to every stream that takes it (SSF_FANOUT). */
  async fanout(principals: Principals, events: FanoutEvent[], notice: string, noticeReason: string, bound: number): Promise<{ enqueued: number[]; lost: number; overflowed: number }> {
    const k = this.#keys;
    const reply = await this.#store.run((redis) =>
      redis.latchSsfFanout(
        k.ssfStreams(), k.ssfStreamPrefix(), k.ssfDue(), k.ssfWake(), String(Date.now()), String(bound),
        JSON.stringify(principals), JSON.stringify(events), notice, noticeReason,
      ),
    );
    const counts = reply.map(Number);
    return { enqueued: counts.slice(0, events.length), lost: counts[events.length] ?? 0, overflowed: counts[events.length + 1] ?? 0 };
  }

  /** The oldest `count` queued SETs. */
  async read(id: string, count: number): Promise<QueuedSet[]> {
    const entries = await this.#store.run((redis) => redis.xrange(this.#keys.ssfQueue(id), '-', '+', 'COUNT', count));
    return entries.map(([entryId, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      return { entryId, jti: f.j ?? '', claims: f.c ?? '{}' };
    });
  }

  async length(id: string): Promise<number> {
    return this.#store.run((redis) => redis.xlen(this.#keys.ssfQueue(id)));
  }

  /** Removes delivered (or refused) SETs by queue entry (push). */
  async remove(id: string, entryIds: string[]): Promise<void> {
    if (entryIds.length) await this.#store.run((redis) => redis.xdel(this.#keys.ssfQueue(id), ...entryIds));
  }

  /** RFC 8936 acknowledgements by jti (poll); returns how many were still queued. */
  async acknowledge(id: string, jtis: string[]): Promise<number> {
    if (jtis.length === 0) return 0;
    const k = this.#keys;
    return this.#store.run((redis) => redis.latchSsfAck(k.ssfQueue(id), k.ssfJtis(id), ...jtis));
  }

  /** The queue is empty: leave the due set (unless an event just arrived: its length). */
  async idle(id: string): Promise<number> {
    const k = this.#keys;
    return this.#store.run((redis) => redis.latchSsfIdle(k.ssfQueue(id), k.ssfDue(), id));
  }

  /** Push streams due for delivery by `now`. */
  async due(now: number, limit: number): Promise<string[]> {
    return this.#store.run((redis) => redis.zrangebyscore(this.#keys.ssfDue(), '-inf', String(now), 'LIMIT', 0, limit));
  }

  async undue(id: string): Promise<void> {
    await this.#store.run((redis) => redis.zrem(this.#keys.ssfDue(), id));
  }

  /** A failed push: try again at `at` (ms); counts the attempt. */
  async retryAt(id: string, at: number): Promise<number> {
    const k = this.#keys;
    const [attempts] = await this.#store.run(async (redis) => {
      const reply = await redis.multi().hincrby(k.ssfStream(id), 'attempts', 1).zadd(k.ssfDue(), 'XX', at, id).exec();
      return [Number(reply?.[0]?.[1] ?? 0)];
    });
    return attempts;
  }

  async delivered(id: string): Promise<void> {
    await this.#store.run((redis) => redis.hset(this.#keys.ssfStream(id), 'attempts', '0'));
  }

  async acquireLease(id: string, owner: string, ms: number): Promise<boolean> {
    return (await this.#store.run((redis) => redis.set(this.#keys.ssfLease(id), owner, 'PX', ms, 'NX'))) === 'OK';
  }

  async renewLease(id: string, owner: string, ms: number): Promise<boolean> {
    return (await this.#store.run((redis) => redis.latchSsfRenew(this.#keys.ssfLease(id), owner, String(ms)))) === 1;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    await this.#store.run((redis) => redis.latchDeleteIfEqual(this.#keys.ssfLease(id), owner));
  }

  /** Queue depth over every stream, the deepest queue, and how many streams lag (metrics). */
  async queueStats(): Promise<{ depth: number; deepest: number; lagging: number }> {
    const k = this.#keys;
    const ids = await this.ids();
    const rows = await this.#store.run((redis) => Promise.all(ids.map((id) => Promise.all([redis.xlen(k.ssfQueue(id)), redis.hget(k.ssfStream(id), 'lagged')]))));
    let depth = 0;
    let deepest = 0;
    let lagging = 0;
    for (const [length, lagged] of rows) {
      depth += length;
      deepest = Math.max(deepest, length);
      if (lagged === '1') lagging++;
    }
    return { depth, deepest, lagging };
  }

  /** One process at a time runs the inactivity sweep (across instances). */
  async claimSweep(owner: string, ms: number): Promise<boolean> {
    return (await this.#store.run((redis) => redis.set(this.#keys.ssfSweepLock(), owner, 'PX', ms, 'NX'))) === 'OK';
  }
}
