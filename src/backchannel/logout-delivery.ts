import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AuditLog } from '../admin/audit-log.js';
import type { BackchannelLogoutConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { WarningThrottle } from '../log/warning-throttle.js';
import { OutboundError } from '../outbound/outbound-error.js';
import { originOf, type Outbound } from '../outbound/outbound.js';
import type { LogoutClients } from './logout-clients.js';
import type { LogoutMetrics } from './logout-metrics.js';
import type { Delivery, FanoutEntry, LogoutEntry, LogoutQueue } from './logout-queue.js';
import type { LogoutTokens } from './logout-token.js';
import { nextAttemptDelay } from './retry-schedule.js';

export interface DeliveryDependencies {
  queue: LogoutQueue;
  clients: LogoutClients;
  tokens: LogoutTokens;
  outbound: Outbound;
  audit: AuditLog;
  metrics: LogoutMetrics;
  logger: Logger;
  settings: BackchannelLogoutConfig;
  /** Runs a whole client's fan-out (and its cleanup); `keepAlive` tells the group it is still running. */
  fanout(entry: FanoutEntry, keepAlive: () => Promise<void>): Promise<void>;
}

/** How often a process looks for entries of consumers that died, and for consumers long gone. */
const RECLAIM_EVERY_MS = 5000;
const FORGET_CONSUMERS_EVERY_MS = 3_600_000;

/** What one attempt came to: a 2xx, or why not. */
type Outcome = { sent: true; status: number } | { sent: false; error: string; status?: number };

/**
 * The background loop that delivers logout tokens, one in every Latch process (every worker, every
 * instance): entries are shared through the queue's consumer group, so each is sent by one process
 * at a time, and an entry whose process died is taken over after the visibility timeout. It never
 * runs inside a request: the request that ended a session only queues, and wakes this loop.
 *
 * Each attempt signs a fresh token (same `jti`), POSTs it through Outbound (its timeout, the SSRF
 * rule), and counts as sent on a 2xx only (OIDC Back-Channel Logout 1.0 §2.8: 200, or 204 from
 * some frameworks). Anything else is retried on the schedule of retry-schedule.ts, then given up;
 * both ends are audited.
 */
export class LogoutDelivery {
  readonly #deps: DeliveryDependencies;
  readonly #consumer = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  readonly #inflight = new Set<Promise<void>>();
  readonly #warnings: WarningThrottle;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #woken = false;

  constructor(deps: DeliveryDependencies) {
    this.#deps = deps;
    this.#warnings = new WarningThrottle(deps.logger);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Something was queued here (or a delivery finished): look now rather than at the next poll. */
  wake(): void {
    this.#woken = true;
    this.#wake?.();
  }

  /** Stops taking entries and waits (up to `graceMs`) for the deliveries under way; unsettled ones are taken over later. */
  async stop(graceMs = 2000): Promise<void> {
    this.#running = false;
    this.wake();
    await this.#loop;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.#inflight]), new Promise((r) => (timer = setTimeout(r, graceMs).unref()))]);
    clearTimeout(timer);
  }

  async #run(): Promise<void> {
    const { queue, settings } = this.#deps;
    let lastReclaim = 0;
    let lastForget = Date.now();
    let failures = 0;
    while (this.#running) {
      this.#woken = false;
      let taken = 0;
      try {
        await queue.ensureGroup();
        await queue.promoteDue();
        const room = settings.concurrency - this.#inflight.size;
        if (room > 0) {
          const batch: Delivery[] = [];
          if (Date.now() - lastReclaim >= Math.min(RECLAIM_EVERY_MS, settings.visibilityTimeoutMs / 2)) {
            lastReclaim = Date.now();
            batch.push(...(await queue.reclaim(this.#consumer, settings.visibilityTimeoutMs, room)));
          }
          if (batch.length < room) batch.push(...(await queue.read(this.#consumer, room - batch.length)));
          taken = batch.length;
          for (const delivery of batch) this.#track(this.#handle(delivery));
        }
        if (Date.now() - lastForget >= FORGET_CONSUMERS_EVERY_MS) {
          lastForget = Date.now();
          await queue.forgetIdleConsumers(FORGET_CONSUMERS_EVERY_MS);
        }
        failures = 0;
      } catch (err) {
        failures++;
        queue.recheckGroup();
        this.#warnings.warn({ err: (err as Error).message }, 'back-channel logout delivery: cannot reach the queue; retrying');
      }
      if (!this.#running) break;
      const full = this.#inflight.size >= settings.concurrency;
      if (taken === 0 || full || failures > 0) {
        await this.#sleep(failures > 0 ? Math.min(settings.pollIntervalMs * 2 ** failures, 5000) : settings.pollIntervalMs);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#woken) return Promise.resolve();
    return new Promise((resolve) => {
      // Unref'd, like the heartbeat: the loop never keeps a process alive by itself.
      const timer = setTimeout(done, ms).unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }

  #track(work: Promise<void>): void {
    this.#inflight.add(work);
    void work.finally(() => {
      this.#inflight.delete(work);
      this.wake();
    });
  }

  async #handle({ id, entry }: Delivery): Promise<void> {
    const { queue, logger } = this.#deps;
    try {
      if (entry?.v !== 1 || (entry.kind !== 'logout' && entry.kind !== 'fanout')) {
        logger.warn({ entry: id }, 'back-channel logout queue: dropped an entry Latch cannot read');
        await queue.settle(id);
        return;
      }
      if (entry.kind === 'fanout') return await this.#fanout(id, entry);
      await this.#deliver(id, entry);
    } catch (err) {
      // Unsettled: the entry stays in the group and is taken over after the visibility timeout.
      this.#warnings.warn({ err: (err as Error).message }, 'back-channel logout delivery interrupted; it will be retried');
    }
  }

  async #fanout(id: string, entry: FanoutEntry): Promise<void> {
    const { queue, settings } = this.#deps;
    const keepAlive = () => queue.touch(this.#consumer, id);
    // A long fan-out says it is alive well within the visibility timeout, so nobody takes it over.
    const beat = setInterval(() => void keepAlive().catch(() => {}), Math.max(500, settings.visibilityTimeoutMs / 3)).unref();
    try {
      await this.#deps.fanout(entry, keepAlive);
    } finally {
      clearInterval(beat);
    }
    await queue.settle(id);
  }

  async #attempt(entry: LogoutEntry, uri: string, alg: string | undefined): Promise<Outcome> {
    const token = await this.#deps.tokens.sign(entry, entry.jti, alg);
    try {
      const response = await this.#deps.outbound.sendPost(uri, {
        body: new URLSearchParams({ logout_token: token }).toString(),
        contentType: 'application/x-www-form-urlencoded',
      });
      if (response.status >= 200 && response.status < 300) return { sent: true, status: response.status };
      return { sent: false, error: `status_${Math.floor(response.status / 100)}xx`, status: response.status };
    } catch (err) {
      if (err instanceof OutboundError) return { sent: false, error: err.code };
      throw err;
    }
  }

  async #deliver(id: string, entry: LogoutEntry): Promise<void> {
    const { queue, clients, metrics, settings, logger } = this.#deps;
    const client = await clients.find(entry.client_id);
    const attempts = entry.attempt + 1;
    if (!client) {
      // The client (or its back-channel URI) is gone: nobody to tell.
      if (await queue.settle(id)) await this.#giveUp(entry, attempts - 1, 'the client has no backchannel_logout_uri any more');
      return;
    }
    const outcome = await this.#attempt(entry, client.uri, client.alg);
    if (outcome.sent) {
      if (!(await queue.settle(id))) return;
      metrics.sent.inc();
      await this.#audit('backchannel-logout', entry, { attempts, status: outcome.status, receiver: originOf(client.uri) });
      return;
    }
    metrics.failed.inc({ error: outcome.error });
    const delay = nextAttemptDelay(settings, attempts);
    if (delay === undefined) {
      if (await queue.settle(id)) await this.#giveUp(entry, attempts, outcome.error, originOf(client.uri), outcome.status);
      return;
    }
    if (await queue.retry(id, { ...entry, attempt: attempts }, delay)) {
      metrics.retried.inc();
      logger.debug({ client: entry.client_id, jti: entry.jti, attempts, error: outcome.error, retryInMs: delay }, 'back-channel logout failed; retrying');
    }
  }

  async #giveUp(entry: LogoutEntry, attempts: number, error: string, receiver?: string, status?: number): Promise<void> {
    this.#deps.metrics.givenUp.inc();
    this.#deps.logger.warn({ client: entry.client_id, jti: entry.jti, attempts, error }, 'back-channel logout given up');
    await this.#audit('backchannel-logout-given-up', entry, { attempts, error, ...(status ? { status } : {}), ...(receiver ? { receiver } : {}) });
  }

  /** The audit entry of a logout sent or given up: what ended, for whom, and why (never the token or the sid). */
  async #audit(action: string, entry: LogoutEntry, detail: Record<string, unknown>): Promise<void> {
    await this.#deps.audit.append({
      actor: 'latch',
      action,
      target: `client:${entry.client_id}`,
      reason: entry.reason,
      count: 0,
      detail: { jti: entry.jti, sub: entry.sub, ...detail, cause: { actor: entry.actor, at: entry.at } },
    });
  }
}
