import type { RedisClient } from '../../adapters/redis/connect.js';
import type { Logger } from '../log/logger.js';

/**
 * Hears which streams just got SETs (`latch:{ssf}:wake`, published by the scripts that queue
 * them), in every process of every instance: a long poll waiting on an empty queue answers at once,
 * and a push stream is delivered without waiting for the next sweep. Losing a wake-up (the
 * subscription down) only delays: polls answer at their wait bound, the sweep pushes within a second.
 */
export class Wake {
  readonly #subscriber: RedisClient;
  readonly #channel: string;
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #listeners: Array<(ids: string[]) => void> = [];
  #closed = false;

  constructor(redis: RedisClient, channel: string, logger: Logger) {
    this.#channel = channel;
    // A subscribed connection serves nothing else: its own, from the same options (a Cluster included).
    this.#subscriber = (redis as { duplicate(): RedisClient }).duplicate();
    let lastWarning = 0;
    this.#subscriber.on('error', (err: Error) => {
      if (Date.now() - lastWarning > 5000) logger.warn({ err: err.message }, 'shared signals: wake-up subscription error (polls wait their bound, pushes the sweep)');
      lastWarning = Date.now();
    });
    this.#subscriber.on('message', (_channel: string, message: string) => this.#wake(message.split(' ').filter(Boolean)));
    // The shared client's options are lazy and queue nothing offline: connect, and subscribe on
    // every (re)connection (SUBSCRIBE twice to one channel is harmless).
    this.#subscriber.on('ready', () => void this.#subscriber.subscribe(channel).catch(() => {}));
    this.#subscriber.connect().catch(() => {});
  }

  #wake(ids: string[]): void {
    this.#release(ids);
    for (const listener of this.#listeners) listener(ids);
  }

  #release(ids: string[]): void {
    for (const id of ids) {
      const waiting = this.#waiters.get(id);
      if (!waiting) continue;
      this.#waiters.delete(id);
      for (const resolve of waiting) resolve();
    }
  }

  /** Calls `listener` with the ids of every wake-up. */
  onWake(listener: (ids: string[]) => void): void {
    this.#listeners.push(listener);
  }

  /** Resolves when `streamId` gets a SET, after `ms`, or when Latch stops, whichever comes first. */
  wait(streamId: string, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let waiting = this.#waiters.get(streamId);
      if (!waiting) this.#waiters.set(streamId, (waiting = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        waiting!.delete(done);
        if (waiting!.size === 0 && this.#waiters.get(streamId) === waiting) this.#waiters.delete(streamId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      waiting.add(done);
    });
  }

  /** Answers every waiting poll (empty) and unsubscribes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release([...this.#waiters.keys()]);
    this.#subscriber.disconnect();
  }

  get channel(): string {
    return this.#channel;
  }
}
