import autocannon from 'autocannon';
import { cpuSnapshot, foreignCores } from './foreign-cpu.js';

export interface FixedRateOptions {
  /** Origin of the server under load (`http://127.0.0.1:port`). */
  url: string;
  request: autocannon.Request;
  /** Requests per second over all connections (autocannon `overallRate`). */
  rate: number;
  connections: number;
  /** Seconds at the same rate before the measured part; their responses are counted apart. */
  warmupS: number;
  durationS: number;
  /** Seconds per reported window (default 60: per minute). */
  windowS?: number;
  /** Label of the response autocannon is reporting (called from its `response` event). */
  kindOf?: () => string;
  /** performance.now() the run's clock starts at (default: when the run starts). */
  origin?: number;
}

export interface Latencies {
  responses: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Responses with a status outside 2xx (a 429 included). */
  non2xx: number;
}

export interface RateWindow extends Latencies {
  fromS: number;
  toS: number;
  rps: number;
  /** Connection errors and timeouts (autocannon `reqError`). */
  socketErrors: number;
}

export interface FixedRateResult extends Latencies {
  targetRate: number;
  rps: number;
  socketErrors: number;
  /** Status codes of the measured part, e.g. { "200": 599000 }. */
  statuses: Record<string, number>;
  windows: RateWindow[];
  byKind: Record<string, Latencies>;
  warmup: { responses: number; non2xx: number; socketErrors: number };
  foreignCores?: number;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function summarise(latencies: number[], non2xx: number): Latencies {
  const sorted = Float64Array.from(latencies).sort();
  const at = (p: number) => (sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!) : NaN);
  return { responses: sorted.length, p50: at(50), p90: at(90), p99: at(99), max: round(sorted[sorted.length - 1] ?? NaN), non2xx };
}

class Bucket {
  latencies: number[] = [];
  non2xx = 0;
  socketErrors = 0;
}

/**
 * One autocannon run at a fixed overall rate for warm-up + duration, every response timed and
 * filed by when it arrived (warm-up or a window of the measured part) and by kind. autocannon
 * paces per connection and per second: each connection sends its share of the second as soon
 * as it can, then waits for the next second, so latencies are those of that one-second cycle.
 */
export async function runFixedRate(options: FixedRateOptions): Promise<FixedRateResult> {
  const { url, request, rate, connections, warmupS, durationS, windowS = 60, kindOf } = options;
  const origin = options.origin ?? performance.now();
  const measuredFrom = origin + warmupS * 1000;
  const warmup = new Bucket();
  const windows: Bucket[] = [];
  const kinds = new Map<string, Bucket>();
  const all = new Bucket();
  const statuses: Record<string, number> = {};
  // Responses that land just after the last full window (the run's end timer) join that window.
  const lastWindow = Math.max(0, Math.ceil(durationS / windowS) - 1);
  const bucketAt = (now: number) => {
    if (now < measuredFrom) return undefined;
    const i = Math.min(lastWindow, Math.floor((now - measuredFrom) / (windowS * 1000)));
    while (windows.length <= i) windows.push(new Bucket());
    return windows[i]!;
  };

  const cpuBefore = cpuSnapshot();
  const instance = autocannon({ url, connections, overallRate: rate, duration: warmupS + durationS, requests: [request] });
  const events = instance as unknown as NodeJS.EventEmitter;
  let lastResponseAt = measuredFrom;
  events.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    const now = performance.now();
    lastResponseAt = now;
    const bucket = bucketAt(now);
    const failed = status < 200 || status >= 300;
    if (!bucket) {
      warmup.latencies.push(ms);
      if (failed) warmup.non2xx++;
      return;
    }
    statuses[status] = (statuses[status] ?? 0) + 1;
    for (const b of [bucket, all, kindBucket(kindOf?.() ?? 'all')]) {
      b.latencies.push(ms);
      if (failed) b.non2xx++;
    }
  });
  events.on('reqError', () => {
    const bucket = bucketAt(performance.now()) ?? warmup;
    bucket.socketErrors++;
    if (bucket !== warmup) all.socketErrors++;
  });
  function kindBucket(kind: string): Bucket {
    let b = kinds.get(kind);
    if (!b) kinds.set(kind, (b = new Bucket()));
    return b;
  }
  await instance;
  const foreign = foreignCores(cpuBefore, cpuSnapshot());

  // Up to the last response: autocannon resolves a moment after its clients stopped sending.
  const measuredS = Math.max(0.001, (lastResponseAt - measuredFrom) / 1000);
  const windowRows = windows.map((b, i): RateWindow => {
    const fromS = i * windowS;
    const toS = i === lastWindow ? round(measuredS, 1) : (i + 1) * windowS;
    return { fromS, toS, rps: Math.round(b.latencies.length / Math.max(0.001, toS - fromS)), socketErrors: b.socketErrors, ...summarise(b.latencies, b.non2xx) };
  });
  return {
    targetRate: rate,
    rps: Math.round(all.latencies.length / measuredS),
    ...summarise(all.latencies, all.non2xx),
    socketErrors: all.socketErrors,
    statuses,
    windows: windowRows,
    byKind: Object.fromEntries([...kinds].map(([k, b]) => [k, summarise(b.latencies, b.non2xx)])),
    warmup: { responses: warmup.latencies.length, non2xx: warmup.non2xx, socketErrors: warmup.socketErrors },
    foreignCores: foreign,
  };
}
