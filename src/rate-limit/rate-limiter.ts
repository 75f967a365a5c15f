import type { Logger } from '../log/logger.js';

/** Where the counts of every instance meet (Redis; see redis-counters.ts). */
export interface SharedCounters {
  /** The storage key of one counter in one window. */
  key(family: string, id: string, window: number): string;
  /** Adds `delta` to the counter at `key`, which expires after `ttlMs`; resolves to its new total. */
  add(key: string, delta: number, ttlMs: number): Promise<number>;
}

export interface RateLimiterOptions {
  windowSeconds: number;
  /** How often local counts are added to the shared ones; 0 never shares (counts stay per instance). */
  syncIntervalMs: number;
}

/** One key's count in the current window, as this instance knows it. */
interface Tally {
  family: string;
  id: string;
  window: number;
  /** Its shared key, built at the first sync (an HMAC: kept off the request path). */
  key?: string;
  /** The total over every instance, as of this instance's last sync (includes its own synced hits). */
  shared: number;
  /** Hits admitted here since the last sync. */
  pending: number;
  /** Hits of the sync under way. */
  sending: number;
}

/**
 * Counters kept per instance, so no request pays a Redis round trip: at most this many distinct
 * keys per window. Past it, new keys are not admitted unlimited (that would let a flood from many
 * addresses switch the limits off): they share one overflow budget per family, or are refused.
 */
const MAX_TALLIES = 100_000;

/** The id of a family's overflow budget (never an address or a client id). */
const OVERFLOW = '\0overflow';

/** What `take` does with a new key once the limiter tracks its maximum number of keys. */
export type WhenFull = 'share' | 'refuse';

/** A Redis outage would otherwise log a line per sync. */
const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * Fixed-window request counters shared by every instance without a round trip on the request path.
 *
 * Each instance counts locally per key (`family` + `id`) in windows of `windowSeconds` aligned to
 * the epoch; every `syncIntervalMs` a background sync sends, for each key counted since the last
 * one, `INCRBY` of its new hits (one single-key script) and keeps the total Redis answers. A request
 * is refused when that total plus the hits not yet sent reaches the limit. One instance therefore
 * enforces a limit exactly; with several, an instance learns of another's hits once that one has
 * sent them and this one has read the total back: each may admit, beyond the limit, what the others
 * admitted in about two sync intervals plus a round trip (docs/operations.md has the bound).
 * When Redis cannot be reached, counts keep accumulating here (each instance then limits alone)
 * and are sent once it answers again.
 */
export class RateLimiter {
  readonly #tallies = new Map<string, Tally>();
  readonly #windowMs: number;
  readonly #counters: SharedCounters;
  readonly #sharing: boolean;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;
  #lastErrorLog = 0;
  #fullWindow = -1;

  constructor(options: RateLimiterOptions, counters: SharedCounters, logger: Logger) {
    this.#windowMs = options.windowSeconds * 1000;
    this.#counters = counters;
    this.#sharing = options.syncIntervalMs > 0;
    this.#logger = logger;
    // Without sharing, the timer only forgets ended windows.
    this.#timer = setInterval(() => void this.sync(), options.syncIntervalMs || this.#windowMs);
    // A timer must not keep a process alive that has nothing else to do.
    this.#timer.unref();
  }

  /**
   * Seconds until the current window ends when `family`/`id` already had `limit` hits in it (as far
   * as this instance knows), else 0. Counts nothing.
   */
  refusal(family: string, id: string, limit: number, now = Date.now()): number {
    const window = Math.floor(now / this.#windowMs);
    let tally = this.#tallies.get(`${family}\0${id}`);
    if (!tally && this.#tallies.size >= MAX_TALLIES) tally = this.#tallies.get(`${family}\0${OVERFLOW}`);
    if (!tally || tally.window !== window || tally.shared + tally.pending + tally.sending < limit) return 0;
    return this.#retryAfter(window, now);
  }

  /** Counts one admitted request for `family`/`id`. */
  hit(family: string, id: string, now = Date.now()): void {
    this.take(family, id, Infinity, now);
  }

  /**
   * `refusal`, and counts the request when it is admitted (one Map lookup: this is per request).
   * A new key while the limiter is full shares its family's overflow budget (`share`: the same
   * limit for all of them together) or is refused until the window ends (`refuse`).
   */
  take(family: string, id: string, limit: number, now = Date.now(), whenFull: WhenFull = 'share'): number {
    const window = Math.floor(now / this.#windowMs);
    let name = `${family}\0${id}`;
    let tally = this.#tallies.get(name);
    if (!tally && this.#tallies.size >= MAX_TALLIES && !this.#dropEnded(window)) {
      this.#full(window);
      if (whenFull === 'refuse') return this.#retryAfter(window, now);
      // One overflow key per family, allowed beyond the maximum: memory stays bounded.
      name = `${family}\0${OVERFLOW}`;
      id = OVERFLOW;
      tally = this.#tallies.get(name);
    }
    if (!tally || tally.window !== window) {
      tally = { family, id, window, shared: 0, pending: 0, sending: 0 };
      this.#tallies.set(name, tally);
    }
    if (tally.shared + tally.pending + tally.sending >= limit) return this.#retryAfter(window, now);
    tally.pending++;
    return 0;
  }

  #retryAfter(window: number, now: number): number {
    return Math.max(1, Math.ceil(((window + 1) * this.#windowMs - now) / 1000));
  }

  /**
   * Sends the hits counted since the last sync and learns the totals of every instance (when
   * sharing); drops the counters of windows that have ended. One sync at a time; never rejects.
   */
  sync(now = Date.now()): Promise<void> {
    this.#syncing ??= this.#send(now).finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  async #send(now: number): Promise<void> {
    const current = Math.floor(now / this.#windowMs);
    // Kept a whole window after it was last written: an instance with a slow clock still finds it.
    const ttlMs = 2 * this.#windowMs;
    const sends: Array<Promise<void>> = [];
    let failure: Error | undefined;
    for (const [name, tally] of this.#tallies) {
      if (tally.window < current) {
        this.#tallies.delete(name);
        continue;
      }
      if (tally.pending === 0 || !this.#sharing) continue;
      const delta = tally.pending;
      tally.pending = 0;
      tally.sending = delta;
      tally.key ??= this.#counters.key(tally.family, tally.id, tally.window);
      // Separate single-key commands issued together (auto-pipelined, per node on a cluster).
      sends.push(
        this.#counters.add(tally.key, delta, ttlMs).then(
          (total) => {
            tally.sending = 0;
            tally.shared = Math.max(tally.shared, total);
          },
          (err: Error) => {
            tally.sending = 0;
            tally.pending += delta;
            failure = err;
          },
        ),
      );
    }
    await Promise.all(sends);
    if (failure && Date.now() - this.#lastErrorLog > ERROR_LOG_INTERVAL_MS) {
      this.#lastErrorLog = Date.now();
      this.#logger.warn({ err: failure.message }, 'rate-limit counters could not be shared through Redis; each instance limits alone until it answers');
    }
  }

  /**
   * Once per window, when full: forgets the keys of ended windows the background sync has not
   * dropped yet. True when that made room.
   */
  #dropEnded(window: number): boolean {
    if (this.#fullWindow === window) return false;
    for (const [name, tally] of this.#tallies) if (tally.window < window) this.#tallies.delete(name);
    return this.#tallies.size < MAX_TALLIES;
  }

  #full(window: number): void {
    if (this.#fullWindow === window) return;
    this.#fullWindow = window;
    this.#logger.warn(
      { max: MAX_TALLIES },
      'rate limiter is tracking its maximum number of keys this window; until it ends, new keys share one overflow budget per endpoint (the login form refuses them)',
    );
  }

  /** Stops the background sync (counts not yet sent are dropped). */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
