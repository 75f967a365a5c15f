import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hostname } from 'node:os';
import { HttpClient } from './http-client.js';
import type { IntrospectionCache } from './introspection-cache.js';
import type { Logger } from './logger.js';
import type { ResolvedSsfOptions } from './options.js';
import { CACHE_EVENTS, SetError, verifySecurityEvent, type SecurityEventMeaning } from './security-event.js';
import { TransmitterClient, Unavailable } from './transmitter-client.js';

const PUSH = 'urn:ietf:rfc:8935';
const POLL = 'urn:ietf:rfc:8936';
/** Push bodies are one SET; Latch's are a few kB. */
export const MAX_PUSH_BYTES = 64 * 1024;
const SEEN_JTIS = 10_000;

/** What the securityEvents endpoint answers (RFC 8935 §2.2, §2.3). */
export interface PushAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}


/** Event sources made by this process so far: a stream's description says which one it is. */
let sources = 0;

/**
 * A Shared Signals stream of Latch's, feeding the introspection cache. The process makes a stream
 * of its own (push or poll, every event type that can end a cached answer), deletes it on close(),
 * and applies each SET it receives to the cache (security-event.ts).
 *
 * The cache is live only while the stream is **known healthy**: its status is `enabled` and a
 * verification event asked for at most `maxLagMs` ago has come back. Latch delivers a stream in
 * order, so a verification that came back means every event published before it was asked for
 * has been applied; one is asked for every `heartbeatMs`. Before the first one, when Latch cannot
 * be reached, when deliveries fail, when the stream falls behind (Latch disables it and says so in
 * a stream-updated event: this process re-enables it and starts again from an empty cache), the
 * cache is emptied and bypassed: every request is introspected.
 */
export class SsfEventSource {
  /** Aborts whatever this source has in flight at Latch (a long poll) when it closes. */
  readonly #stopPolling = new AbortController();
  readonly #options: ResolvedSsfOptions;
  readonly #issuer: string;
  readonly #cache: IntrospectionCache;
  readonly #logger: Logger;
  readonly #latch: TransmitterClient;
  readonly #pollHttp: HttpClient | undefined;
  /** The `authorization_header` Latch sends with each push: a secret of this process only. */
  readonly #pushSecret = `Bearer ${randomBytes(32).toString('base64url')}`;
  readonly #seen = new Set<string>();
  readonly #pending = new Map<string, number>();
  #streamId: string | undefined;
  #status = 'unknown';
  #confirmedAt: number | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #lapse: NodeJS.Timeout | undefined;
  #closed = false;
  #ready: Promise<void>;
  #markReady!: () => void;
  #setting: Promise<void> | undefined;
  #pollUrl: string | undefined;
  readonly #ordinal = ++sources;

  constructor(options: ResolvedSsfOptions, issuer: string, cache: IntrospectionCache, logger: Logger, timeoutMs: number) {
    this.#options = options;
    this.#issuer = issuer;
    this.#cache = cache;
    this.#logger = logger;
    this.#latch = new TransmitterClient(issuer, options.client, timeoutMs, this.#stopPolling.signal);
    this.#pollHttp = options.delivery === 'poll' ? new HttpClient(options.pollTimeoutMs, 1) : undefined;
    this.#ready = new Promise((resolve) => (this.#markReady = resolve));
    this.#heartbeat = setInterval(() => void this.#beat(), options.heartbeatMs);
    this.#heartbeat.unref();
    void this.#beat();
    if (options.delivery === 'poll') void this.#pollLoop();
  }

  /** Resolves once the stream is first known healthy (the cache is usable from then on). */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** The path the adapters' securityEvents endpoint answers at (push), or undefined. */
  get pushPath(): string | undefined {
    return this.#options.delivery === 'push' && this.#options.endpointUrl ? new URL(this.#options.endpointUrl).pathname : undefined;
  }

  // ---- health ------------------------------------------------------------------------------

  #healthy(now = Date.now()): boolean {
    return this.#status === 'enabled' && this.#confirmedAt !== undefined && now - this.#confirmedAt < this.#options.maxLagMs;
  }

  /** Makes the cache's liveness follow the stream's health; schedules the next lapse. */
  #update(): void {
    clearTimeout(this.#lapse);
    if (this.#closed) return;
    const healthy = this.#healthy();
    if (healthy && !this.#cache.live) {
      this.#cache.resume();
      this.#markReady();
    } else if (!healthy && this.#cache.live) {
      this.#cache.suspend();
      this.#logger.warn({ stream: this.#streamId, status: this.#status }, 'shared signals: stream not known healthy (cache bypassed)');
    }
    if (healthy) {
      this.#lapse = setTimeout(() => this.#update(), this.#confirmedAt! + this.#options.maxLagMs - Date.now());
      this.#lapse.unref();
    }
  }

  #unhealthy(): void {
    this.#confirmedAt = undefined;
    this.#pending.clear();
    this.#update();
  }

  // ---- talking to Latch --------------------------------------------------------------------

  /** Creates this process's stream (SSF §8.1.1.1), once at a time. */
  async #ensureStream(): Promise<string> {
    if (this.#streamId) return this.#streamId;
    this.#setting ??= (async () => {
      const t = await this.#latch.discover();
      const delivery = this.#options.delivery === 'push' ? { method: PUSH, endpoint_url: this.#options.endpointUrl, authorization_header: this.#pushSecret } : { method: POLL };
      const description = `latch/resource-server introspection cache (${hostname()} pid ${process.pid} #${this.#ordinal})`;
      // A stream of this very host, pid and ordinal is a previous life of this source (a container
      // restarted under its name) that died without deleting it: it goes, rather than wait for
      // its inactivity_timeout and hold a place under ssf.maxStreamsPerReceiver.
      const listed = await this.#latch.call(t.configuration, 'GET');
      if (listed.status === 200 && Array.isArray(listed.json)) {
        for (const old of listed.json as Array<{ stream_id?: unknown; description?: unknown }>) {
          if (old.description === description && typeof old.stream_id === 'string') await this.#latch.call(`${t.configuration}?stream_id=${encodeURIComponent(old.stream_id)}`, 'DELETE');
        }
      }
      const { status, json } = await this.#latch.call(t.configuration, 'POST', { delivery, events_requested: CACHE_EVENTS, description });
      const config = json as { stream_id?: unknown; iss?: unknown; delivery?: { endpoint_url?: unknown } } | undefined;
      if (status !== 201 || typeof config?.stream_id !== 'string') throw new Unavailable(`creating the stream answered ${status}`);
      if (config.iss !== this.#issuer) throw new Unavailable('the stream names another issuer');
      this.#pollUrl = typeof config.delivery?.endpoint_url === 'string' ? config.delivery.endpoint_url : undefined;
      this.#streamId = config.stream_id;
      this.#status = 'enabled';
    })().finally(() => (this.#setting = undefined));
    await this.#setting;
    return this.#streamId!;
  }

  /** Re-reads the status; a stream that is not enabled (Latch disabled it for lag) is enabled again. */
  async #checkStatus(): Promise<void> {
    const t = await this.#latch.discover();
    const id = await this.#ensureStream();
    const { status, json } = await this.#latch.call(`${t.status}?stream_id=${encodeURIComponent(id)}`, 'GET');
    if (status === 404) return this.#lost();
    const current = (json as { status?: unknown } | undefined)?.status;
    if (status !== 200 || typeof current !== 'string') throw new Unavailable(`reading the stream status answered ${status}`);
    if (current !== 'enabled') {
      const enabled = await this.#latch.call(t.status, 'POST', { stream_id: id, status: 'enabled', reason: 'latch/resource-server: starting again from an empty cache' });
      if (enabled.status !== 200) throw new Unavailable(`enabling the stream answered ${enabled.status}`);
    }
    this.#status = 'enabled';
  }

  /** The stream is gone (deleted after its inactivity_timeout): a new one is made on the next beat. */
  #lost(): void {
    this.#streamId = undefined;
    this.#status = 'unknown';
    this.#unhealthy();
  }

  /** The heartbeat: asks for a verification event carrying a fresh state. */
  async #beat(): Promise<void> {
    if (this.#closed) return;
    try {
      const t = await this.#latch.discover();
      const id = await this.#ensureStream();
      if (this.#status !== 'enabled') await this.#checkStatus();
      const state = randomBytes(16).toString('base64url');
      const asked = Date.now();
      this.#pending.set(state, asked);
      // Only the latest few may still come back (a verification lost on the way never does).
      for (const old of [...this.#pending.keys()].slice(0, -5)) this.#pending.delete(old);
      const { status } = await this.#latch.call(t.verification, 'POST', { stream_id: id, state });
      if (status === 404) return this.#lost();
      // 429: Latch's min_verification_interval; the previous one still counts until maxLagMs.
      if (status !== 204 && status !== 200 && status !== 429) throw new Unavailable(`verification request answered ${status}`);
    } catch (err) {
      this.#logger.warn({ stream: this.#streamId, cause: (err as Error).message }, 'shared signals: heartbeat failed');
    }
  }

  // ---- receiving ---------------------------------------------------------------------------

  /** Applies one verified SET's meaning (in the order received). */
  #apply(meaning: SecurityEventMeaning): void {
    switch (meaning.kind) {
      case 'revocation':
        this.#cache.apply(meaning.event);
        return;
      case 'verification': {
        if (meaning.streamId !== this.#streamId || meaning.state === undefined) return;
        const asked = this.#pending.get(meaning.state);
        if (asked === undefined) return;
        for (const [state, at] of this.#pending) if (at <= asked) this.#pending.delete(state);
        this.#confirmedAt = Math.max(this.#confirmedAt ?? 0, asked);
        this.#update();
        return;
      }
      case 'stream-updated':
        if (meaning.streamId !== this.#streamId) return;
        // SSF §8.1.5: Latch changed the status itself (a lag past its queue bound): events may be
        // lost, so nothing cached can be trusted; start again once re-enabled and verified.
        this.#status = meaning.status;
        this.#unhealthy();
        void this.#checkStatus().then(() => this.#beat(), (err: Error) => this.#logger.warn({ cause: err.message }, 'shared signals: re-enabling the stream failed'));
        return;
      case 'ignore':
        return;
    }
  }

  /** Verifies a SET and applies it once (a jti seen before is acknowledged and not applied again). */
  async #receive(token: string): Promise<void> {
    const t = await this.#latch.discover().catch(() => {
      throw new SetError('invalid_key', 'the issuer\'s keys cannot be fetched right now');
    });
    const { jti, meaning } = await verifySecurityEvent(token, t.keys, this.#issuer, this.#options.client.clientId);
    if (this.#seen.has(jti)) return;
    this.#seen.add(jti);
    if (this.#seen.size > SEEN_JTIS) this.#seen.delete(this.#seen.values().next().value!);
    this.#apply(meaning);
  }

  /**
   * RFC 8935: one pushed SET. 202 once applied (or already seen); 400 with `{err, description}`
   * for a SET that does not verify; 401 when the request lacks the authorization this process
   * registered with its stream.
   */
  async receivePush(request: { authorization: string | undefined; contentType: string | undefined; body: string }): Promise<PushAnswer> {
    const json = (status: number, err: string, description: string): PushAnswer => ({
      status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body: JSON.stringify({ err, description }),
    });
    const expected = Buffer.from(this.#pushSecret);
    const given = Buffer.from(request.authorization ?? '');
    if (this.#options.delivery !== 'push' || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return json(401, 'authentication_failed', 'this endpoint takes SETs from Latch only');
    }
    if (!/^application\/secevent\+jwt\s*(;|$)/i.test(request.contentType ?? '')) return json(400, 'invalid_request', 'expected an application/secevent+jwt body (RFC 8935 §2)');
    try {
      await this.#receive(request.body.trim());
    } catch (err) {
      if (err instanceof SetError) return json(400, err.err, err.message);
      throw err;
    }
    return { status: 202, headers: { 'cache-control': 'no-store' }, body: '' };
  }

  /** RFC 8936: long polls, acknowledging what the previous one brought. */
  async #pollLoop(): Promise<void> {
    let ack: string[] = [];
    let setErrs: Record<string, { err: string; description: string }> = {};
    let failures = 0;
    while (!this.#closed) {
      try {
        await this.#ensureStream();
        const { status, json } = await this.#latch.call(this.#pollUrl!, 'POST', { ack, setErrs, maxEvents: 100, returnImmediately: false }, this.#pollHttp);
        if (status === 404) {
          this.#lost();
          throw new Unavailable('the stream is gone');
        }
        const sets = (json as { sets?: unknown } | undefined)?.sets;
        if (status !== 200 || typeof sets !== 'object' || sets === null) throw new Unavailable(`poll answered ${status}`);
        ack = [];
        setErrs = {};
        // The whole batch is applied before any verification in it is counted (#apply is in
        // arrival order; a batch's object order is not the queue's for every jti).
        const verified: SecurityEventMeaning[] = [];
        for (const [jti, token] of Object.entries(sets as Record<string, unknown>)) {
          try {
            const t = await this.#latch.discover();
            const set = await verifySecurityEvent(String(token), t.keys, this.#issuer, this.#options.client.clientId);
            ack.push(jti);
            if (this.#seen.has(set.jti)) continue;
            this.#seen.add(set.jti);
            if (set.meaning.kind === 'revocation') this.#apply(set.meaning);
            else verified.push(set.meaning);
          } catch (err) {
            if (!(err instanceof SetError)) throw err;
            setErrs[jti] = { err: err.err, description: err.message };
          }
        }
        for (const meaning of verified) this.#apply(meaning);
        failures = 0;
      } catch (err) {
        if (this.#closed) return;
        failures++;
        this.#logger.warn({ stream: this.#streamId, cause: (err as Error).message }, 'shared signals: poll failed');
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** Math.min(failures, 6), 10_000)).unref());
      }
    }
  }

  /** Stops the heartbeat and polling, and deletes this process's stream (best effort). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#lapse);
    this.#stopPolling.abort();
    if (this.#streamId) await this.#latch.deleteStream(this.#streamId).catch(() => undefined);
    await Promise.all([this.#latch.close(), this.#pollHttp?.close()]);
  }
}
