import autocannon from 'autocannon';
import { cpuSnapshot, foreignCores } from './foreign-cpu.js';
import { cpuMicrosPerRequest, processSnapshot } from './process-cpu.js';

export interface LoadTarget {
  /** Full URL of the endpoint under load. */
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Request bodies; with more than one, requests rotate through them. */
  bodies?: string[];
  /** Extra headers for each request, taken as it is sent (e.g. a fresh, single-use DPoP proof). */
  nextHeaders?: () => Record<string, string>;
  /** Whether a response is the expected, successful answer (e.g. introspection said active). */
  accepted: (status: number, body: string) => boolean;
}

export interface LoadSettings {
  connections: number;
  durationS: number;
  warmupS: number;
}

export interface LoadResult {
  rps: number;
  /** Latency percentiles in ms, from every response's own timing (sub-millisecond precision). */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  responses: number;
  /** Responses that were not the expected answer, connection errors and timeouts. */
  rejected: number;
  errors: number;
  /** CPU cores used by processes outside the bench during the measured run (lib/foreign-cpu.ts). */
  foreignCores?: number;
  /** CPU µs per response of each process named in `measure`'s `processes` (lib/process-cpu.ts). */
  cpuUs?: Record<string, number>;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

async function run(target: LoadTarget, connections: number, durationS: number, record: boolean) {
  const { pathname, search, origin } = new URL(target.url);
  const path = pathname + search;
  const bodies = target.bodies ?? [''];
  let next = 0;
  let rejected = 0;
  let latencies = new Float64Array(1 << 18);
  let count = 0;
  const request: autocannon.Request = {
    method: target.method ?? 'POST',
    path,
    headers: target.headers,
    onResponse: (status: number, body: string) => {
      if (!target.accepted(status, body)) rejected++;
    },
  };
  if (bodies.length === 1) request.body = bodies[0];
  const { nextHeaders } = target;
  if (bodies.length > 1 || nextHeaders)
    request.setupRequest = (req) => {
      if (bodies.length > 1) req.body = bodies[next++ % bodies.length];
      if (nextHeaders) req.headers = { ...target.headers, ...nextHeaders() };
      return req;
    };
  const instance = autocannon({ url: origin, connections, duration: durationS, requests: [request] });
  if (record) {
    // autocannon's own histogram has whole-millisecond resolution; keep every response's time.
    (instance as unknown as NodeJS.EventEmitter).on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => {
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[count++] = ms;
    });
  }
  const result = await instance;
  return { result, rejected, latencies: latencies.slice(0, count).sort() };
}

/**
 * A short warm-up (discarded), then a fixed-duration measured run at `connections` connections.
 * `processes` (name → pid or pids: the server under test, its Redis) get their CPU µs per response over
 * the measured run.
 */
export async function measure(target: LoadTarget, settings: LoadSettings, processes: Record<string, number | number[]> = {}): Promise<LoadResult> {
  if (settings.warmupS > 0) await run(target, settings.connections, settings.warmupS, false);
  const cpuBefore = cpuSnapshot();
  const ticksBefore = processSnapshot(processes);
  const { result, rejected, latencies } = await run(target, settings.connections, settings.durationS, true);
  const ticksAfter = processSnapshot(processes);
  const foreign = foreignCores(cpuBefore, cpuSnapshot());
  return {
    rps: Math.round(result.requests.total / result.duration),
    p50: round(percentile(latencies, 50)),
    p90: round(percentile(latencies, 90)),
    p99: round(percentile(latencies, 99)),
    max: round(latencies[latencies.length - 1] ?? NaN),
    responses: result.requests.total,
    rejected: rejected + result.errors + result.timeouts,
    errors: result.errors + result.timeouts,
    foreignCores: foreign,
    cpuUs: Object.keys(processes).length ? cpuMicrosPerRequest(ticksBefore, ticksAfter, result.requests.total) : undefined,
  };
}
