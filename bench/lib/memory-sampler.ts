import { readFileSync } from 'node:fs';
import type { ChildServer } from './child-server.js';
import type { MemoryReport } from '../servers/memory-probe.js';

/** Node arguments that preload the memory probe (bench/servers/memory-probe.ts) into a server. */
export const MEMORY_PROBE_ARGS = ['--import', new URL('../servers/memory-probe.js', import.meta.url).href];

const MB = 1024 * 1024;
const TICKS_PER_SECOND = 100;

export interface MemorySample {
  /** Seconds since the sampler's origin. */
  atS: number;
  /** Resident set size from /proc/<pid>/status (VmRSS), MB. */
  rssMB: number;
  /** Its anonymous part (heaps, malloc) and its file-backed part (binary and libraries paged in), MB. */
  rssAnonMB?: number;
  rssFileMB?: number;
  /** V8 heap in use at the moment of the sample (includes not-yet-collected garbage), MB. */
  heapUsedMB: number;
  heapTotalMB: number;
  /** Pages of V8's heap actually backed by memory (what the heap adds to RSS), MB. */
  heapPhysicalMB: number;
  externalMB: number;
  /** V8 heap in use right after each full GC V8 ran since the previous sample (the live set), MB. */
  liveHeapMB: number[];
  /** Young-generation collections since the previous sample. */
  scavenges: number;
  /** CPU seconds (user + system) the server has used so far, from /proc/<pid>/stat. */
  cpuS?: number;
  /** Figures from the sampler's `extra` (e.g. Redis used_memory). */
  extra: Record<string, number>;
}

const mb = (bytes: number) => Math.round((bytes / MB) * 100) / 100;

/** VmRSS, RssAnon and RssFile of /proc/<pid>/status in bytes (Linux; empty elsewhere). */
function procRss(pid: number): { rss?: number; anon?: number; file?: number } {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return {};
  }
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile') };
}

function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Asks the probe inside `server` for its memory figures (over IPC, bounded wait). */
function askProbe(server: ChildServer, timeoutMs = 3000): Promise<MemoryReport> {
  return new Promise((resolve, reject) => {
    if (!server.child.connected) return reject(new Error(`pid ${server.pid} has no IPC channel any more`));
    const onMessage = (message: { memoryReport?: MemoryReport }) => {
      if (!message?.memoryReport) return;
      clearTimeout(timer);
      server.child.off('message', onMessage);
      resolve(message.memoryReport);
    };
    const timer = setTimeout(() => {
      server.child.off('message', onMessage);
      reject(new Error(`the memory probe in pid ${server.pid} did not answer within ${timeoutMs} ms (started without MEMORY_PROBE_ARGS?)`));
    }, timeoutMs);
    server.child.on('message', onMessage);
    server.child.send({ memory: true });
  });
}

/** One sample of `server`'s memory: RSS from /proc, V8 figures from the preloaded probe. */
export async function sampleMemory(server: ChildServer, startedAt: number, extra?: () => Promise<Record<string, number>>): Promise<MemorySample> {
  const atS = Math.round((performance.now() - startedAt) / 100) / 10;
  const [report, more] = await Promise.all([askProbe(server), extra?.() ?? {}]);
  const rss = procRss(server.pid);
  return {
    atS,
    rssMB: mb(rss.rss ?? report.rss),
    rssAnonMB: rss.anon === undefined ? undefined : mb(rss.anon),
    rssFileMB: rss.file === undefined ? undefined : mb(rss.file),
    heapUsedMB: mb(report.heapUsed),
    heapTotalMB: mb(report.heapTotal),
    heapPhysicalMB: mb(report.heapPhysical),
    externalMB: mb(report.external),
    liveHeapMB: report.afterFullGcs.map(mb),
    scavenges: report.scavenges,
    cpuS: procCpuSeconds(server.pid),
    extra: more,
  };
}

/**
 * Samples `server` every `intervalMs` until stopped; one sample at a time, so a slow answer
 * delays the next sample instead of piling requests up.
 */
export class MemorySampler {
  readonly samples: MemorySample[] = [];
  /** Samples that failed (probe did not answer in time); the figures say how many. */
  misses: string[] = [];
  #stopped = false;
  #wake = () => {};
  readonly #loop: Promise<void>;

  /** `origin`: the performance.now() sample times count from (default: now). */
  constructor(server: ChildServer, intervalMs: number, extra?: () => Promise<Record<string, number>>, origin = performance.now()) {
    this.#loop = (async () => {
      while (!this.#stopped) {
        const due = performance.now() + intervalMs;
        try {
          this.samples.push(await sampleMemory(server, origin, extra));
        } catch (err) {
          this.misses.push((err as Error).message);
        }
        if (this.#stopped) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, due - performance.now()));
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    })();
  }

  async stop(): Promise<MemorySample[]> {
    this.#stopped = true;
    this.#wake();
    await this.#loop;
    return this.samples;
  }
}

/** Least-squares slope of y over x, or undefined with fewer than 2 distinct x. */
export function slope(points: Array<[number, number]>): number | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? undefined : sxy / sxx;
}
