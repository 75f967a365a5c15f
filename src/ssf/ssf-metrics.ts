import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Shared Signals figures on the operations listener's `/metrics`. Labels are small fixed sets
 * (delivery method, event type URI tail), never stream ids. With LATCH_WORKERS > 1 counters are
 * summed over the workers; the queue gauges are read from Redis by each worker and shown once
 * (`max`), not multiplied by the number of workers.
 */
export class SsfMetrics {
  readonly enqueued: Counter<'event'>;
  readonly delivered: Counter<'method'>;
  readonly failed: Counter<'reason'>;
  readonly retried: Counter;
  readonly rejected: Counter<'method'>;
  readonly lost: Counter;
  readonly overflows: Counter;

  constructor(registry: Registry, queues: () => Promise<{ depth: number; deepest: number; lagging: number }>) {
    const registers = [registry];
    this.enqueued = new Counter({ name: 'latch_ssf_events_enqueued_total', help: 'SETs queued on streams, by event type', labelNames: ['event'], registers });
    this.delivered = new Counter({ name: 'latch_ssf_delivered_total', help: 'SETs a receiver has (push answered 2xx, poll acknowledged), by delivery method', labelNames: ['method'], registers });
    this.failed = new Counter({ name: 'latch_ssf_push_failed_total', help: 'Push attempts that failed (timeout, refused address, connection error, non-2xx answer), by reason', labelNames: ['reason'], registers });
    this.retried = new Counter({ name: 'latch_ssf_push_retried_total', help: 'Push attempts that were retries of a SET that failed before', registers });
    this.rejected = new Counter({ name: 'latch_ssf_rejected_total', help: 'SETs a receiver refused (RFC 8935 §2.3 error, RFC 8936 setErrs), dropped from its queue', labelNames: ['method'], registers });
    this.lost = new Counter({ name: 'latch_ssf_events_lost_total', help: 'Events not queued on a stream that had fallen behind its bound (the stream was disabled and told so)', registers });
    this.overflows = new Counter({ name: 'latch_ssf_queue_overflows_total', help: 'Streams disabled because their receiver fell maxQueue events behind', registers });
    let last: Promise<{ depth: number; deepest: number; lagging: number }> | undefined;
    // One Redis read per scrape for the three gauges.
    const read = () => (last ??= queues().finally(() => setTimeout(() => (last = undefined), 100).unref()));
    new Gauge({
      name: 'latch_ssf_queue_depth', help: 'SETs queued over every stream, not yet with their receiver', registers, aggregator: 'max',
      async collect() {
        this.set((await read().catch(() => ({ depth: NaN }))).depth);
      },
    });
    new Gauge({
      name: 'latch_ssf_queue_depth_max', help: 'SETs queued on the stream with the longest queue', registers, aggregator: 'max',
      async collect() {
        this.set((await read().catch(() => ({ deepest: NaN }))).deepest);
      },
    });
    new Gauge({
      name: 'latch_ssf_streams_lagging', help: 'Streams disabled because their receiver fell behind (until it enables them again)', registers, aggregator: 'max',
      async collect() {
        this.set((await read().catch(() => ({ lagging: NaN }))).lagging);
      },
    });
  }
}
