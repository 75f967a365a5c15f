import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Back-channel logout on /metrics (docs/backchannel-logout.md#metrics). The counters are this
 * process's (summed over workers); the queue depth is Redis's, the same for every process, so
 * workers are aggregated by `max`, not summed.
 */
export class LogoutMetrics {
  readonly queued: Counter;
  readonly sent: Counter;
  readonly failed: Counter<'error'>;
  readonly retried: Counter;
  readonly givenUp: Counter;

  constructor(registry: Registry, depth: () => Promise<{ queued: number; retrying: number }>) {
    const registers = [registry];
    this.queued = new Counter({ name: 'latch_backchannel_logout_queued_total', help: 'Logout tokens queued (one per RP session that ended)', registers });
    this.sent = new Counter({ name: 'latch_backchannel_logout_sent_total', help: 'Logout tokens a receiver answered 2xx to', registers });
    this.failed = new Counter({
      name: 'latch_backchannel_logout_failed_total',
      help: 'Delivery attempts that failed, by error (status_4xx, status_5xx, status_3xx, or the ERR_OUTBOUND_* code)',
      labelNames: ['error'] as const,
      registers,
    });
    this.retried = new Counter({ name: 'latch_backchannel_logout_retried_total', help: 'Failed deliveries scheduled for another attempt', registers });
    this.givenUp = new Counter({ name: 'latch_backchannel_logout_given_up_total', help: 'Deliveries given up after their last attempt (audited)', registers });
    new Gauge({
      name: 'latch_backchannel_logout_queue_depth',
      help: 'Logout tokens not yet delivered: queued (or being sent) and waiting for a retry',
      labelNames: ['state'] as const,
      aggregator: 'max',
      registers,
      async collect() {
        // A scrape while Redis is down keeps the last figures rather than failing.
        const now = await depth().catch(() => undefined);
        if (!now) return;
        this.set({ state: 'queued' }, now.queued);
        this.set({ state: 'retrying' }, now.retrying);
      },
    });
  }
}
