import { Redis } from 'ioredis';
import type { IntrospectionCache } from './introspection-cache.js';
import type { Logger } from './logger.js';
import { parseEvent } from './revocation-event.js';

/**
 * Subscribes to Latch's revocation events (docs/events.md) and applies each to the cache.
 * The cache is live only while the subscription is: on any disconnect it is emptied and bypassed
 * (events published meanwhile are lost to pub/sub), and it starts again, empty, once resubscribed.
 */
export class RevocationSubscriber {
  readonly #redis: Redis;
  readonly #ready: Promise<void>;

  constructor(redisUrl: string, channel: string, cache: IntrospectionCache, logger: Logger) {
    let markReady: () => void;
    this.#ready = new Promise<void>((resolve) => (markReady = resolve));
    // ioredis' own resubscription gives no signal when it is done; ours resumes the cache after it.
    this.#redis = new Redis(redisUrl, { autoResubscribe: false, maxRetriesPerRequest: null, lazyConnect: false });
    let lastWarning = 0;
    this.#redis.on('error', (err: Error) => {
      if (Date.now() - lastWarning > 5000) logger.warn({ err: err.message }, 'revocation events: redis error (cache bypassed)');
      lastWarning = Date.now();
    });
    this.#redis.on('close', () => cache.suspend());
    this.#redis.on('ready', () => {
      this.#redis.subscribe(channel).then(
        () => {
          cache.resume();
          markReady();
        },
        (err: Error) => logger.warn({ err: err.message }, 'revocation events: subscribe failed (cache bypassed)'),
      );
    });
    this.#redis.on('message', (_channel: string, message: string) => {
      const event = parseEvent(message);
      if (event !== 'ignore') cache.apply(event);
    });
  }

  /** Resolves once the first subscription is active (the cache is usable from then on). */
  ready(): Promise<void> {
    return this.#ready;
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
