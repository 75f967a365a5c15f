import type { RedisClient } from '../../adapters/redis/connect.js';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { Logger } from '../log/logger.js';

/** What can change at run time; each kind has its own in-memory copies to drop. */
export type LiveKind = 'client' | 'api';

/** Called with the id that changed, or `undefined` when every entry of the kind must be re-read. */
export type LiveListener = (id: string | undefined) => void;

export interface LiveUpdatesOptions {
  /** How often the version counter is read, to catch an announcement pub/sub lost (ms). */
  recheckMs?: number;
}

/**
 * Tells every process of every instance that managed configuration changed (a client, an API), so
 * each drops its in-memory copy (client authenticator, verified-credentials cache, resource-server
 * table, CSP origins) and reads the stored one again, without a restart.
 *
 * Pub/sub alone loses announcements: a subscription that dropped, a process reconnecting. So every
 * change also bumps a counter in Redis (`latch:live:version`) and the announcement carries the new
 * value; a process that sees a gap, or reads a counter ahead of what it heard (every `recheckMs`),
 * drops everything. A change therefore reaches every process within `recheckMs` plus one round trip,
 * whatever pub/sub did.
 */
export class LiveUpdates {
  readonly #store: RedisStore;
  readonly #subscriber: RedisClient;
  readonly #listeners = new Map<LiveKind, LiveListener[]>();
  readonly #timer: NodeJS.Timeout;
  readonly #logger: Logger;
  /** The last counter value this process acted on; undefined until the first read. */
  #seen: number | undefined;
  #closed = false;
  #lastWarning = 0;

  constructor(store: RedisStore, logger: Logger, options: LiveUpdatesOptions = {}) {
    this.#store = store;
    this.#logger = logger;
    const channel = store.keys.liveChannel();
    // A subscribed connection serves nothing else: its own, from the same options (a Cluster included).
    this.#subscriber = (store.redis as { duplicate(): RedisClient }).duplicate();
    this.#subscriber.on('error', (err: Error) => this.#warn(err));
    this.#subscriber.on('message', (_channel: string, message: string) => this.#heard(message));
    // Subscribed again on every (re)connection; whatever was announced meanwhile, drop everything.
    this.#subscriber.on('ready', () => {
      void this.#subscriber.subscribe(channel).then(() => this.#recheck(true), () => {});
    });
    this.#subscriber.connect().catch(() => {});
    this.#timer = setInterval(() => void this.#recheck(), options.recheckMs ?? 500);
    this.#timer.unref();
  }

  /** Calls `listener` whenever an entry of `kind` changes here or on any other instance. */
  on(kind: LiveKind, listener: LiveListener): void {
    const listeners = this.#listeners.get(kind) ?? [];
    listeners.push(listener);
    this.#listeners.set(kind, listeners);
  }

  /**
   * Announces that `id` of `kind` changed (after the change is stored). This process acts on it at
   * once; the others when they hear it. A failure is a 503 (the change is stored, but the caller
   * must not be told every instance knows).
   */
  async publish(kind: LiveKind, id: string): Promise<void> {
    this.#notify(kind, id);
    const keys = this.#store.keys;
    await this.#store.run(async (redis) => {
      const version = await redis.incr(keys.liveVersion());
      await redis.publish(keys.liveChannel(), `${version} ${kind} ${id}`);
    });
  }

  /** Stops listening (Latch stopping). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#subscriber.disconnect();
  }

  #heard(message: string): void {
    const [versionText, kind, ...rest] = message.split(' ');
    const version = Number(versionText);
    if (!Number.isSafeInteger(version) || (kind !== 'client' && kind !== 'api')) return;
    const inOrder = this.#seen !== undefined && version === this.#seen + 1;
    if (this.#seen === undefined || version > this.#seen) this.#seen = version;
    // A gap means an announcement was missed (or overtaken): only a full refresh is safe.
    if (inOrder) this.#notify(kind, rest.join(' '));
    else this.#notifyAll();
  }

  async #recheck(force = false): Promise<void> {
    if (this.#closed) return;
    let version: number;
    try {
      version = Number((await this.#store.redis.get(this.#store.keys.liveVersion())) ?? 0);
    } catch (err) {
      this.#warn(err as Error);
      return;
    }
    if (!force && this.#seen !== undefined && version <= this.#seen) return;
    this.#seen = version;
    this.#notifyAll();
  }

  #notify(kind: LiveKind, id: string | undefined): void {
    for (const listener of this.#listeners.get(kind) ?? []) {
      try {
        listener(id);
      } catch (err) {
        this.#logger.error({ err: (err as Error).message, kind }, 'live updates: a listener failed');
      }
    }
  }

  #notifyAll(): void {
    for (const kind of this.#listeners.keys()) this.#notify(kind, undefined);
  }

  #warn(err: Error): void {
    if (Date.now() - this.#lastWarning > 5000) this.#logger.warn({ err: err.message }, 'live updates: Redis error (changes reach this process when it reconnects)');
    this.#lastWarning = Date.now();
  }
}
