import { randomBytes } from 'node:crypto';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { SsfConfig } from '../config/schema.js';
import type { LatchEvent } from '../revocation/events.js';
import { VERIFICATION } from './event-types.js';
import { signalsOf } from './signals.js';
import type { SsfMetrics } from './ssf-metrics.js';
import type { StreamStore } from './stream-store.js';
import { opaque, principalsOf, subjectId } from './subjects.js';

/** The tail of an event type URI, for metrics labels (`session-revoked`, …). */
export const eventLabel = (type: string) => type.slice(type.lastIndexOf('/') + 1);

/**
 * Turns every Latch event into SETs on every stream that takes them, in the request that
 * published the event (EventPublisher's sink: the SETs are in Redis before that request answers,
 * so a crash right after loses none). The claims are queued unsigned; each is signed when it
 * leaves (a push, a poll answer), with the same `jti` however often it is sent.
 */
export class SsfTransmitter {
  readonly #store: RedisStore;
  readonly #streams: StreamStore;
  readonly #issuer: string;
  readonly #config: SsfConfig;
  readonly #metrics: SsfMetrics;

  constructor(options: { store: RedisStore; streams: StreamStore; issuer: string; config: SsfConfig; metrics: SsfMetrics }) {
    this.#store = options.store;
    this.#streams = options.streams;
    this.#issuer = options.issuer;
    this.#config = options.config;
    this.#metrics = options.metrics;
  }

  /** The account's email (subject matching, the email variant) and current roles (token-claims-change). */
  async #account(sub: string): Promise<{ email?: string; roles: string[] }> {
    const [email, roles] = await this.#store.run((redis) => redis.hmget(this.#store.keys.account(sub), 'email', 'roles'));
    return { ...(email ? { email } : {}), roles: roles ? roles.split(' ').filter(Boolean) : [] };
  }

  /** EventPublisher's sink: queues the event's SETs (none when no stream takes them). */
  async publish(event: LatchEvent): Promise<void> {
    const sub = typeof event.sub === 'string' ? event.sub : undefined;
    const account = sub === undefined ? undefined : await this.#account(sub);
    const { subject, signals } = signalsOf(event, account);
    if (signals.length === 0) return;
    const txn = randomBytes(16).toString('base64url');
    // SSF §4.1.8: `txn` ties together the SETs of one underlying event (session-revoked and
    // account-disabled of one disable), on every stream.
    const base = { iss: this.#issuer, iat: Math.floor(Date.now() / 1000), txn };
    const email = account?.email;
    const events = signals.map((signal, i) => ({
      type: signal.type,
      seed: `${txn}:${i}`,
      claims: JSON.stringify({ ...base, sub_id: subjectId(this.#issuer, subject), events: { [signal.type]: signal.event } }),
      emailClaims: email && subject.sub !== undefined ? JSON.stringify({ ...base, sub_id: subjectId(this.#issuer, subject, email), events: { [signal.type]: signal.event } }) : '',
    }));
    const reason = `the receiver fell ${this.#config.maxQueue} events behind: Latch queues no more events on this stream until it is enabled again`;
    const result = await this.#streams.fanout(principalsOf(this.#issuer, subject, email), events, JSON.stringify(base), reason, this.#config.maxQueue);
    result.enqueued.forEach((n, i) => {
      if (n > 0) this.#metrics.enqueued.inc({ event: eventLabel(events[i]!.type) }, n);
    });
    if (result.lost > 0) this.#metrics.lost.inc(result.lost);
    if (result.overflowed > 0) this.#metrics.overflows.inc(result.overflowed);
  }

  /**
   * SSF §8.1.4.2: queues a verification event echoing `state`, behind every event already queued
   * on the stream (Latch delivers a stream in order: a receiver that gets it has everything that
   * was published before it asked). Past the queue bound by at most VERIFICATION_ROOM.
   */
  async verify(streamId: string, state: string | undefined): Promise<'queued' | 'gone' | 'full'> {
    const claims = {
      iss: this.#issuer,
      iat: Math.floor(Date.now() / 1000),
      sub_id: opaque(streamId),
      events: { [VERIFICATION]: state === undefined ? {} : { state } },
    };
    const queued = await this.#streams.enqueueOne(streamId, randomBytes(16).toString('base64url'), JSON.stringify(claims), this.#config.maxQueue + VERIFICATION_ROOM);
    if (queued === 'queued') this.#metrics.enqueued.inc({ event: eventLabel(VERIFICATION) });
    return queued;
  }
}

/** Verifications a full queue may still take (one per min_verification_interval): then 429. */
const VERIFICATION_ROOM = 16;
