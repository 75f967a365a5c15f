import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/** One registry's metrics as `Registry.getMetricsAsJSON()` gives them. */
type metric = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];

/**
 * With LATCH_WORKERS > 1 every worker counts in its own registry, but a scrape must see the whole
 * server. The primary collects every worker's metrics over the cluster's IPC channel and sums them
 * with prom-client's `AggregatorRegistry.aggregate` (counters and histograms summed, process
 * gauges by each metric's own aggregator). A worker asked for /metrics asks the primary, so
 * whichever worker a scrape lands on answers for all of them; a listener in the primary (the ops
 * port) would call `clusterMetrics()` directly.
 *
 * Only workers that announced their registry are asked (a worker still starting has none yet), and
 * one that does not answer within 2 s (it just died) is left out of that scrape rather than failing it.
 */
type Message =
  | { type: 'latch:metrics-ready' }
  | { type: 'latch:metrics-collect'; id: number }
  | { type: 'latch:metrics-json'; id: number; metrics?: metric[]; error?: string }
  | { type: 'latch:metrics-request'; id: number }
  | { type: 'latch:metrics-answer'; id: number; body?: string; error?: string };

const COLLECT_TIMEOUT_MS = 2000;
const registered = new WeakSet<Worker>();
const collecting = new Map<number, (metrics: metric[] | undefined) => void>();
let nextId = 0;

/** Primary: the metrics of every serving worker, aggregated, in Prometheus text format. */
export async function clusterMetrics(): Promise<string> {
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && registered.has(w) && w.isConnected());
  const results = await Promise.all(
    workers.map(
      (worker) =>
        new Promise<metric[] | undefined>((resolve) => {
          const id = nextId++;
          const timer = setTimeout(() => done(undefined), COLLECT_TIMEOUT_MS);
          const done = (metrics: metric[] | undefined) => {
            clearTimeout(timer);
            collecting.delete(id);
            resolve(metrics);
          };
          collecting.set(id, done);
          worker.send({ type: 'latch:metrics-collect', id } satisfies Message);
        }),
    ),
  );
  return AggregatorRegistry.aggregate(results.filter((m): m is metric[] => m !== undefined)).metrics();
}

/** Primary: keeps track of the workers' registries and answers workers asking for the aggregate. */
export function answerWorkersMetrics(): void {
  cluster.on('message', (worker, message: Message) => {
    if (message?.type === 'latch:metrics-ready') registered.add(worker);
    if (message?.type === 'latch:metrics-json') collecting.get(message.id)?.(message.metrics);
    if (message?.type !== 'latch:metrics-request') return;
    const { id } = message;
    const reply = (answer: { body?: string; error?: string }) => {
      if (worker.isConnected()) worker.send({ type: 'latch:metrics-answer', id, ...answer } satisfies Message);
    };
    clusterMetrics().then(
      (body) => reply({ body }),
      (err: Error) => reply({ error: err.message }),
    );
  });
}

/**
 * Worker: offers `registry` to the primary and returns what renders /metrics — the primary's
 * aggregate of every worker (rejects after 6 s without an answer).
 */
export function workerMetrics(registry: Registry): () => Promise<string> {
  const pending = new Map<number, { resolve: (body: string) => void; reject: (err: Error) => void }>();
  let next = 0;
  process.on('message', (message: Message) => {
    if (message?.type === 'latch:metrics-collect') {
      const { id } = message;
      registry.getMetricsAsJSON().then(
        (metrics) => process.send?.({ type: 'latch:metrics-json', id, metrics } satisfies Message),
        (err: Error) => process.send?.({ type: 'latch:metrics-json', id, error: err.message } satisfies Message),
      );
    }
    if (message?.type !== 'latch:metrics-answer') return;
    const waiting = pending.get(message.id);
    pending.delete(message.id);
    if (message.body !== undefined) waiting?.resolve(message.body);
    else waiting?.reject(new Error(message.error ?? 'no metrics'));
  });
  process.send?.({ type: 'latch:metrics-ready' } satisfies Message);
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('the primary did not answer with the metrics within 6 s'));
      }, 6000);
      pending.set(id, {
        resolve: (body) => {
          clearTimeout(timer);
          resolve(body);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      process.send!({ type: 'latch:metrics-request', id } satisfies Message);
    });
}
