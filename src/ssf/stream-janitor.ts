import { randomBytes } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import type { StreamStore } from './stream-store.js';

const SWEEP_MS = 60_000;

/**
 * SSF §8.1.1 `inactivity_timeout`: a stream whose receiver has not called the management API
 * (or polled it) for the timeout is deleted with its queue, so receivers that went away (a
 * resource-server process that died without deleting its stream) do not keep queues forever.
 * One process at a time sweeps (a lock in Redis), once a minute.
 */
export class StreamJanitor {
  readonly #streams: StreamStore;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #owner = randomBytes(12).toString('base64url');
  #timer: NodeJS.Timeout | undefined;

  constructor(streams: StreamStore, timeoutSeconds: number, logger: Logger) {
    this.#streams = streams;
    this.#timeoutMs = timeoutSeconds * 1000;
    this.#logger = logger;
  }

  start(): void {
    if (this.#timeoutMs <= 0) return;
    this.#timer = setInterval(() => void this.sweep().catch(() => {}), SWEEP_MS);
    this.#timer.unref();
  }

  /** Deletes the streams inactive for longer than the timeout; returns how many. */
  async sweep(now = Date.now()): Promise<number> {
    if (this.#timeoutMs <= 0 || !(await this.#streams.claimSweep(this.#owner, SWEEP_MS / 2))) return 0;
    let deleted = 0;
    for (const id of await this.#streams.inactiveSince(now - this.#timeoutMs, 500)) {
      const stream = await this.#streams.get(id);
      if (!stream) {
        await this.#streams.forget(id);
        continue;
      }
      await this.#streams.delete(stream);
      deleted++;
      this.#logger.info({ stream: id, receiver: stream.clientId }, 'shared signals: stream deleted after its inactivity_timeout');
    }
    return deleted;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
