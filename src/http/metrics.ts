import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics (prom-client) on a registry of Latch's own, served at GET /metrics:
 * request rate and latency per endpoint, introspection answers, revocations, rate-limit refusals,
 * Redis errors.
 */
export class LatchMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'latch_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'latch_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly introspections = new Counter({
    name: 'latch_introspections_total',
    help: 'Introspection answers of the lean handler by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly revocations = new Counter({
    name: 'latch_revocations_total',
    help: 'Revocations published, by scope',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'latch_rate_limited_total',
    help: 'Requests refused with 429 by the rate limits, by endpoint and scope (client or address)',
    labelNames: ['endpoint', 'scope'] as const,
    registers: [this.registry],
  });
  readonly redisErrors = new Counter({
    name: 'latch_redis_errors_total',
    help: 'Redis operations that failed or timed out (answered 503)',
    registers: [this.registry],
  });

  readonly introspectionFailures = new Counter({
    name: 'latch_introspection_failures_total',
    help: 'Introspections answered 5xx by the lean handler (Redis down or slow: temporarily_unavailable), by error; the warning in the log is written at most once per 10 s',
    labelNames: ['error'] as const,
    registers: [this.registry],
  });

  readonly redisLatency = new Histogram({
    name: 'latch_redis_operation_duration_seconds',
    help: 'Time of each Redis operation of a request (one script on the hot path; a few commands for writes), failures included',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2],
    registers: [this.registry],
  });

  /**
   * Renders GET /metrics: this registry, or with LATCH_WORKERS > 1 the sum over every worker
   * (src/cluster/cluster-metrics.ts sets it in each worker).
   */
  render: () => Promise<string> = () => this.registry.metrics();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'latch_' });
  }

  /**
   * Counts one request under its route's label (src/provider/routes.ts: a small fixed set, so
   * metrics never grow with ids or junk paths; a path no route answers is 'other').
   */
  observe(route: string, method: string, status: number, seconds: number): void {
    this.requests.inc({ route, method, status: String(status) });
    this.latency.observe({ route }, seconds);
  }
}
