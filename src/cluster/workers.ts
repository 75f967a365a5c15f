import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../log/logger.js';
import { answerWorkersMetrics } from './cluster-metrics.js';
import { RestartPolicy } from './restart-policy.js';

export interface WorkerPoolOptions {
  /** LATCH_WORKERS. */
  count: number;
  /** Added to every worker's environment (REDIS_URL of the development Redis). */
  env: Record<string, string>;
  logger: Logger;
  /** Runs once every worker has exited (stops the development Redis), before the primary exits. */
  onStopped: () => Promise<void>;
}

/** The environment variable telling a worker its slot (1…N), which its log lines carry as `worker`. */
export const WORKER_SLOT = 'LATCH_WORKER';

/** A worker still draining this long after SIGTERM is killed (its own bound is 10 s). */
const DRAIN_LIMIT_MS = 15_000;

/**
 * The primary of LATCH_WORKERS > 1 (node:cluster): forks the workers, which all serve one port
 * (the primary accepts connections and hands them round-robin to the workers), restarts a worker
 * that dies, with backoff, and gives up loudly on a crash loop. SIGTERM or SIGINT drains every worker
 * (each finishes its requests, as a single process does) and exits 0. Everything that must happen
 * once (config validation, development keys and Redis, seeding accounts) happened before this.
 */
export function runWorkers(options: WorkerPoolOptions): void {
  const { logger } = options;
  const slots = new Map<Worker, number>();
  const policy = new RestartPolicy();
  const restarts = new Set<NodeJS.Timeout>();
  let listened = false;
  let stopping = false;
  let failed = false;

  answerWorkersMetrics();

  const start = (slot: number) => {
    const worker = cluster.fork({ ...options.env, [WORKER_SLOT]: String(slot) });
    slots.set(worker, slot);
    worker.once('listening', () => {
      listened = true;
    });
  };

  const stop = (reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    failed = exitCode !== 0;
    logger.info({ reason, workers: slots.size }, 'shutting down: draining every worker');
    restarts.forEach(clearTimeout);
    for (const worker of slots.keys()) worker.process.kill('SIGTERM');
    setTimeout(() => {
      for (const worker of slots.keys()) worker.process.kill('SIGKILL');
    }, DRAIN_LIMIT_MS).unref();
    if (slots.size === 0) void finish();
  };

  const finish = async () => {
    await options.onStopped().catch((err: Error) => logger.warn({ err: err.message }, 'could not stop cleanly'));
    logger.info({ exitCode: failed ? 1 : 0 }, 'every worker stopped');
    process.exit(failed ? 1 : 0);
  };

  cluster.on('exit', (worker, code, signal) => {
    const slot = slots.get(worker)!;
    slots.delete(worker);
    if (stopping) {
      // Killed by our SIGTERM means it was still starting (a serving worker drains and exits 0).
      if (code !== 0 && signal !== 'SIGTERM') failed = true;
      if (slots.size === 0) void finish();
      return;
    }
    const delayMs = policy.onDeath();
    const died = { worker: slot, pid: worker.process.pid, code, signal };
    if (!listened) {
      // No worker ever served: the cause is in the set-up (its message is above), not bad luck.
      logger.error(died, 'a worker failed before serving; stopping');
      process.stderr.write(`latch: worker ${slot} failed before serving (exit code ${code ?? signal}); stopping every worker\n`);
      return stop('start-up failure', 1);
    }
    if (delayMs === undefined) {
      logger.error({ ...died, deaths: policy.recentDeaths, withinMs: policy.windowMs }, 'workers keep crashing: giving up');
      process.stderr.write(`latch: workers keep crashing (${policy.recentDeaths} deaths within ${policy.windowMs / 1000} s); giving up\n`);
      return stop('crash loop', 1);
    }
    logger.warn({ ...died, restartInMs: delayMs }, 'worker died; restarting it');
    const timer = setTimeout(() => {
      restarts.delete(timer);
      if (!stopping) start(slot);
    }, delayMs);
    restarts.add(timer);
  });

  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  for (let slot = 1; slot <= options.count; slot++) start(slot);
  logger.info({ workers: options.count }, 'primary started its workers');
}
