import { randomBytes } from 'node:crypto';
import type { IdCipher } from '../../adapters/redis/id-cipher.js';
import type { SsfConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { WarningThrottle } from '../log/warning-throttle.js';
import { OutboundError } from '../outbound/outbound-error.js';
import { originOf, type Outbound } from '../outbound/outbound.js';
import type { SetSigner } from './set-signer.js';
import type { SsfMetrics } from './ssf-metrics.js';
import { transmits, type QueuedSet, type StreamRecord, type StreamStore } from './stream-store.js';
import type { Wake } from './wake.js';

export interface PushDependencies {
  streams: StreamStore;
  signer: SetSigner;
  cipher: IdCipher;
  outbound: Outbound;
  config: SsfConfig;
  /** outbound.timeoutMs: the longest one push takes. */
  pushTimeoutMs: number;
  metrics: SsfMetrics;
  logger: Logger;
}

/**
 * How long a pusher holds a stream per renewal (it renews after every SET): three pushes' worth,
 * so a process that died mid-push holds up its streams that long at most.
 */
const leaseMs = (pushTimeoutMs: number) => Math.max(3 * pushTimeoutMs, 3000);
const SWEEP_MS = 1000;

/**
 * RFC 8935 §2.3 error codes that mean this very SET will never be accepted (it is dropped and
 * counted); any other failure (a key the receiver has not fetched yet, its authentication, an
 * outage, a timeout) is retried.
 */
const PERMANENT = new Set(['invalid_request', 'invalid_issuer', 'invalid_audience', 'invalid_state']);

const RETRIED = new Set(['invalid_key', 'authentication_failed', 'access_denied']);

type Outcome = { kind: 'delivered' } | { kind: 'rejected'; err: string } | { kind: 'failed'; reason: string };

/** Retry delay after the `attempt`-th consecutive failure: base × 2^(attempt−1), capped, plus up to 10 % jitter. */
export function retryDelay(attempt: number, config: Pick<SsfConfig, 'retryBaseMs' | 'retryMaxMs'>, random = Math.random): number {
  const delay = Math.min(config.retryBaseMs * 2 ** Math.min(attempt - 1, 30), config.retryMaxMs);
  return Math.round(delay * (1 + random() * 0.1));
}

/**
 * RFC 8935 push delivery of every push stream, run by every Latch process. A stream is delivered
 * by one process at a time (a lease in Redis), strictly in order, one SET per POST
 * (`application/secevent+jwt`, the receiver's `authorization_header`), each signed as it leaves.
 * A SET leaves its queue once the receiver answered 2xx, or refused it for good (RFC 8935 §2.3);
 * any other failure keeps it at the head of the queue and the stream waits `retryDelay` before
 * the next attempt, for as long as it takes: the queue bound, not a retry count, decides when a
 * receiver has fallen too far behind (the stream is then disabled and told so). Wake-ups push at
 * once; a sweep every second finds what is due (retries, a lease whose process died).
 */
export class PushDelivery {
  readonly #deps: PushDependencies;
  readonly #owner = randomBytes(12).toString('base64url');
  readonly #running = new Map<string, Promise<void>>();
  /** Streams woken while MAX_CONCURRENT were being delivered: started, in order, as those finish. */
  readonly #waiting = new Set<string>();
  readonly #warnings: WarningThrottle;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(deps: PushDependencies) {
    this.#deps = deps;
    this.#warnings = new WarningThrottle(deps.logger, 10_000);
  }

  start(wake: Wake): void {
    wake.onWake((ids) => ids.forEach((id) => this.kick(id)));
    this.#sweeper = setInterval(() => void this.#sweep(), SWEEP_MS);
    this.#sweeper.unref();
    void this.#sweep();
  }

  /** Delivers `streamId` now if no process is at it (a wake-up, a status change). */
  kick(streamId: string): void {
    if (this.#closed || this.#running.has(streamId)) return;
    // One revocation wakes every stream at once: a hundred deliveries started together put some
    // eight hundred Redis commands and a hundred signatures ahead of the request that caused them
    // (its own remaining Redis calls and its answer). A few at a time keep that request fast.
    if (this.#running.size >= PushDelivery.MAX_CONCURRENT) {
      this.#waiting.add(streamId);
      return;
    }
    const running = this.#deliver(streamId)
      .catch((err: Error) => this.#warnings.warn({ err: err.message }, 'shared signals: push delivery stopped (retried by the next sweep)'))
      .finally(() => {
        this.#running.delete(streamId);
        const [next] = this.#waiting;
        if (next === undefined) return;
        this.#waiting.delete(next);
        this.kick(next);
      });
    this.#running.set(streamId, running);
  }

  /** Streams this process delivers at the same time. */
  static readonly MAX_CONCURRENT = 8;

  async #sweep(): Promise<void> {
    if (this.#closed) return;
    try {
      for (const id of await this.#deps.streams.due(Date.now(), 200)) this.kick(id);
    } catch {
      // Redis unreachable: the next sweep tries again.
    }
  }

  async #deliver(id: string): Promise<void> {
    const { streams } = this.#deps;
    const lease = leaseMs(this.#deps.pushTimeoutMs);
    if (!(await streams.acquireLease(id, this.#owner, lease))) return;
    try {
      while (!this.#closed) {
        const stream = await streams.get(id);
        // Nothing to push: gone, a poll stream, paused or disabled (transmits() lets a lagged stream drain).
        if (!stream || stream.method !== 'push' || !transmits(stream)) return void (await streams.undue(id));
        const [entry] = await streams.read(id, 1);
        if (!entry) {
          if ((await streams.idle(id)) === 0) return;
          continue;
        }
        const outcome = await this.#push(stream, entry);
        if (outcome.kind === 'failed') {
          await streams.retryAt(id, Date.now() + retryDelay(stream.attempts + 1, this.#deps.config));
          return;
        }
        await streams.remove(id, [entry.entryId]);
        if (stream.attempts > 0) await streams.delivered(id);
        if (!(await streams.renewLease(id, this.#owner, lease))) return;
      }
    } finally {
      await streams.releaseLease(id, this.#owner).catch(() => {});
    }
  }

  async #push(stream: StreamRecord, entry: QueuedSet): Promise<Outcome> {
    const { signer, cipher, outbound, metrics } = this.#deps;
    if (stream.attempts > 0) metrics.retried.inc();
    const set = await signer.sign(JSON.parse(entry.claims) as Record<string, unknown>, entry.jti, stream.clientId);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (stream.sealedAuthorization) headers.authorization = cipher.open(stream.sealedAuthorization);
    let outcome: Outcome;
    try {
      const response = await outbound.sendPost(stream.endpointUrl!, { body: set, contentType: 'application/secevent+jwt', headers });
      outcome = judge(response.status, response.body);
    } catch (err) {
      outcome = { kind: 'failed', reason: err instanceof OutboundError ? err.code : 'ERR_OUTBOUND_CONNECTION' };
    }
    const where = { stream: stream.id, receiver: stream.clientId, endpoint: originOf(stream.endpointUrl!) };
    if (outcome.kind === 'delivered') metrics.delivered.inc({ method: 'push' });
    if (outcome.kind === 'rejected') {
      metrics.rejected.inc({ method: 'push' });
      this.#deps.logger.warn({ ...where, err: outcome.err }, 'shared signals: the receiver refused a SET for good (RFC 8935 §2.3); it is dropped');
    }
    if (outcome.kind === 'failed') {
      metrics.failed.inc({ reason: outcome.reason });
      this.#warnings.warn({ ...where, reason: outcome.reason, attempt: stream.attempts + 1 }, 'shared signals: push failed; retrying with backoff');
    }
    return outcome;
  }

  /**
   * Starts no more pushes; resolves when the pushes under way have finished (each is bounded by
   * outbound.timeoutMs), so a graceful stop does not leave a SET half sent, to be sent again.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#waiting.clear();
    clearInterval(this.#sweeper);
    await Promise.allSettled([...this.#running.values()]);
  }
}

/** RFC 8935 §2.2 (202 Accepted; any 2xx is taken as delivered) and §2.3 (400 + `{err, description}`). */
function judge(status: number, body: string): Outcome {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 400) {
    let err: unknown;
    try {
      err = (JSON.parse(body) as { err?: unknown }).err;
    } catch {
      err = undefined;
    }
    if (typeof err === 'string' && PERMANENT.has(err)) return { kind: 'rejected', err };
    // Metrics labels stay a fixed set: the receiver's own words are not one.
    return { kind: 'failed', reason: typeof err === 'string' && RETRIED.has(err) ? err : 'http_400' };
  }
  return { kind: 'failed', reason: `http_${status}` };
}
