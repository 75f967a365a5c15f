import { createHash } from 'node:crypto';
import type { RedisStore } from '../../adapters/redis/redis-store.js';

/** docs/events.md, version 1. */
export type RevocationScope = 'token' | 'grant' | 'session' | 'account' | 'account-client' | 'client' | 'account-disabled' | 'account-roles';

export interface RevocationEvent {
  v: 1;
  type: 'revocation';
  scope: RevocationScope;
  sub?: string;
  client_id?: string;
  session_id?: string;
  token_sha256?: string;
  reason: string;
  actor: string;
  at: number;
}

/** Security events (issue 4) share the channel; they carry their own fields. */
export interface SecurityEvent {
  v: 1;
  type: 'security';
  kind: string;
  sub?: string;
  actor: string;
  at: number;
  [field: string]: unknown;
}

export type LatchEvent = RevocationEvent | SecurityEvent;

const STREAM_MAX = 100_000;

/** base64url SHA-256 of a raw token: lets caches match a token without Latch publishing it. */
export function tokenSha256(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * Publishes each event twice in one round trip: pub/sub for caches that must react in
 * milliseconds, and a capped Stream for consumers that must not miss one while away.
 */
export class EventPublisher {
  readonly #store: RedisStore;
  readonly #sinks: Array<(event: LatchEvent) => Promise<void>> = [];
  /** Called for every event published (metrics). */
  onPublish: (event: LatchEvent) => void = () => {};

  constructor(store: RedisStore) {
    this.#store = store;
  }

  /**
   * Adds a consumer that must hear every event durably, in the request that caused it (Shared
   * Signals streams, back-channel logout): publish() awaits every sink, so what a sink queues in
   * Redis is there before the request answers, and a sink's failure fails the request (503) rather
   * than losing the event.
   */
  addSink(sink: (event: LatchEvent) => Promise<void>): void {
    this.#sinks.push(sink);
  }

  async publish(event: Omit<RevocationEvent, 'v' | 'type' | 'at'> | Omit<SecurityEvent, 'v' | 'at'>): Promise<LatchEvent> {
    const full = { v: 1, type: 'revocation', ...event, at: Date.now() } as LatchEvent;
    const body = JSON.stringify(full);
    const { keys } = this.#store;
    await this.#store.run((redis) =>
      Promise.all([
        redis.publish(keys.eventsChannel(), body),
        redis.xadd(keys.eventsStream(), 'MAXLEN', '~', STREAM_MAX, '*', 'event', body),
      ]),
    );
    await Promise.all(this.#sinks.map((sink) => sink(full)));
    this.onPublish(full);
    return full;
  }
}
