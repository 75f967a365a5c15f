import { randomBytes } from 'node:crypto';
import type { Result } from 'ioredis';
import { BCL_PROMOTE, BCL_RETRY, BCL_SETTLE } from '../../adapters/redis/backchannel-scripts.js';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { Actor } from '../revocation/revocations.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    latchBclSettle(queue: string, group: string, id: string): Result<number, Context>;
    latchBclRetry(queue: string, retries: string, group: string, id: string, delayMs: number, entry: string): Result<number, Context>;
    latchBclPromote(queue: string, retries: string, limit: number): Result<number, Context>;
  }
}

/** The consumer group every Latch process reads the queue through. */
const GROUP = 'latch';

/** One RP session that ended: the client, the user, and the session's `sid` when Latch knows it. */
export interface LogoutTarget {
  client_id: string;
  sub: string;
  sid?: string;
}

/** A logout token to deliver. `jti` is fixed when queued: every attempt re-signs with the same one. */
export interface LogoutEntry extends LogoutTarget {
  v: 1;
  kind: 'logout';
  jti: string;
  /** Who ended the session and why (the revocation's actor and reason), for the audit log. */
  actor: string;
  reason: string;
  /** When it was queued (ms). */
  at: number;
  /** Attempts made so far. */
  attempt: number;
}

/** A whole client's revocation, still to be turned into logout entries (and its cleanup run). */
export interface FanoutEntry {
  v: 1;
  kind: 'fanout';
  client_id: string;
  epoch: number;
  /** The client's epoch before this revocation: grants already dead by it are not this one's. */
  previous_epoch: number;
  /** The cleanup job (GET /admin/jobs/{id}) this fan-out runs. */
  job: string;
  actor: string;
  reason: string;
  at: number;
}

export type QueueEntry = LogoutEntry | FanoutEntry;

/** An entry as read from the Stream; `entry` is undefined when its body is unreadable. */
export interface Delivery {
  id: string;
  entry: QueueEntry | undefined;
}

type StreamRows = Array<[string, string[] | null]>;

function toDeliveries(rows: StreamRows): Delivery[] {
  return rows.map(([id, fields]) => {
    const body = fields?.[fields.indexOf('e') + 1];
    try {
      return { id, entry: body ? (JSON.parse(body) as QueueEntry) : undefined };
    } catch {
      return { id, entry: undefined };
    }
  });
}

/**
 * The durable queue of back-channel logout deliveries in Redis (keys.ts `backchannelQueue`,
 * `backchannelRetries`; adapters/redis/README.md):
 *
 * - a Stream the request that ended a session appends to (`XADD`, before it answers, so a crash
 *   right after loses nothing), read by every Latch process through one consumer group: each entry
 *   goes to one process; one that dies holding entries has them taken over (`XAUTOCLAIM`) after
 *   the visibility timeout;
 * - a sorted set of failed deliveries waiting for their next attempt (score = due time), moved back
 *   into the Stream when due by whichever process gets there first (scripts, one slot).
 *
 * Entries leave the Stream only when settled (sent, or given up): the Stream is never trimmed.
 */
export class LogoutQueue {
  readonly #store: RedisStore;
  #grouped = false;

  constructor(store: RedisStore) {
    this.#store = store;
    const { redis } = store;
    redis.defineCommand('latchBclSettle', { numberOfKeys: 1, lua: BCL_SETTLE });
    redis.defineCommand('latchBclRetry', { numberOfKeys: 2, lua: BCL_RETRY });
    redis.defineCommand('latchBclPromote', { numberOfKeys: 2, lua: BCL_PROMOTE });
  }

  get #queue(): string {
    return this.#store.keys.backchannelQueue();
  }

  get #retries(): string {
    return this.#store.keys.backchannelRetries();
  }

  /** Queues one logout token per target; returns the entries queued. */
  async enqueue(targets: LogoutTarget[], by: Actor): Promise<LogoutEntry[]> {
    if (targets.length === 0) return [];
    const at = Date.now();
    const entries: LogoutEntry[] = targets.map((t) => ({
      v: 1,
      kind: 'logout',
      jti: randomBytes(16).toString('base64url'),
      client_id: t.client_id,
      sub: t.sub,
      ...(t.sid ? { sid: t.sid } : {}),
      actor: by.actor,
      reason: by.reason,
      at,
      attempt: 0,
    }));
    await this.#store.run((redis) => Promise.all(entries.map((e) => redis.xadd(this.#queue, '*', 'e', JSON.stringify(e)))));
    return entries;
  }

  async enqueueFanout(entry: Omit<FanoutEntry, 'v' | 'kind' | 'at'>): Promise<void> {
    const full: FanoutEntry = { v: 1, kind: 'fanout', ...entry, at: Date.now() };
    await this.#store.run((redis) => redis.xadd(this.#queue, '*', 'e', JSON.stringify(full)));
  }

  /** Creates the consumer group (from the Stream's start) unless it exists. */
  async ensureGroup(): Promise<void> {
    if (this.#grouped) return;
    await this.#store.run(async (redis) => {
      try {
        await redis.xgroup('CREATE', this.#queue, GROUP, '0', 'MKSTREAM');
      } catch (err) {
        if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
      }
    });
    this.#grouped = true;
  }

  /** Forgets that the group exists (after an error: the Stream may have been deleted). */
  recheckGroup(): void {
    this.#grouped = false;
  }

  /** Up to `count` entries no consumer has taken yet, for `consumer`. */
  async read(consumer: string, count: number): Promise<Delivery[]> {
    const reply = await this.#store.run((redis) => redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', this.#queue, '>'));
    const streams = reply as Array<[string, StreamRows]> | null;
    return streams?.[0] ? toDeliveries(streams[0][1]) : [];
  }

  /** Up to `count` entries another consumer took more than `idleMs` ago and never settled (it died). */
  async reclaim(consumer: string, idleMs: number, count: number): Promise<Delivery[]> {
    const reply = await this.#store.run((redis) => redis.xautoclaim(this.#queue, GROUP, consumer, idleMs, '0-0', 'COUNT', count));
    return toDeliveries((reply as [string, StreamRows])[1] ?? []);
  }

  /** Tells the group that `consumer` is still working on `id` (long fan-outs), so it is not taken over. */
  async touch(consumer: string, id: string): Promise<void> {
    await this.#store.run((redis) => redis.call('XCLAIM', this.#queue, GROUP, consumer, '0', id, 'JUSTID'));
  }

  /** Removes a delivery that is done (sent or given up). False when another consumer already had. */
  async settle(id: string): Promise<boolean> {
    return (await this.#store.run((redis) => redis.latchBclSettle(this.#queue, GROUP, id))) === 1;
  }

  /** Moves a failed delivery to the retry set, due in `delayMs`, with `entry`'s attempt count. */
  async retry(id: string, entry: LogoutEntry, delayMs: number): Promise<boolean> {
    return (await this.#store.run((redis) => redis.latchBclRetry(this.#queue, this.#retries, GROUP, id, Math.round(delayMs), JSON.stringify(entry)))) === 1;
  }

  /** Moves retries whose time has come back into the Stream; returns how many. */
  async promoteDue(limit = 100): Promise<number> {
    return this.#store.run((redis) => redis.latchBclPromote(this.#queue, this.#retries, limit));
  }

  /** Deliveries not yet settled: in the Stream (queued or being sent) and waiting for a retry. */
  async depth(): Promise<{ queued: number; retrying: number }> {
    const [queued, retrying] = await this.#store.run((redis) => Promise.all([redis.xlen(this.#queue), redis.zcard(this.#retries)]));
    return { queued, retrying };
  }

  /** Drops consumers that hold nothing and were idle longer than `idleMs` (processes long gone). */
  async forgetIdleConsumers(idleMs: number): Promise<void> {
    const rows = (await this.#store.run((redis) => redis.xinfo('CONSUMERS', this.#queue, GROUP))) as unknown[][];
    for (const row of rows) {
      const info = new Map<string, unknown>();
      for (let i = 0; i + 1 < row.length; i += 2) info.set(String(row[i]), row[i + 1]);
      if (Number(info.get('pending')) === 0 && Number(info.get('idle')) > idleMs) {
        await this.#store.run((redis) => redis.xgroup('DELCONSUMER', this.#queue, GROUP, String(info.get('name'))));
      }
    }
  }
}
