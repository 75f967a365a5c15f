import { GCProfiler, getHeapStatistics } from 'node:v8';

/**
 * Preloaded into a server under test (`node --import <this file>`, lib/memory-sampler.ts) so the
 * bench can read the process's memory without the server exposing anything: it answers
 * `{ memory: true }` on the IPC channel the bench forked it with, and nothing else. It forces no
 * GC; V8's GC profiler records the collections V8 runs anyway.
 */

export interface MemoryReport {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** Committed V8 heap pages actually backed by memory. */
  heapPhysical: number;
  external: number;
  arrayBuffers: number;
  /**
   * V8 heap in use right after each full (mark-compact) collection since the previous report:
   * the live set. Heap used at a random moment swings by the garbage made since the last GC.
   */
  afterFullGcs: number[];
  scavenges: number;
}

interface GcStatistics {
  statistics: Array<{ gcType: string; afterGC: { heapStatistics: { usedHeapSize: number } } }>;
}

let profiler = new GCProfiler();
profiler.start();

if (process.send) {
  process.on('message', (message: { memory?: boolean }) => {
    if (!message?.memory) return;
    const { statistics } = profiler.stop() as unknown as GcStatistics;
    profiler = new GCProfiler();
    profiler.start();
    const report: MemoryReport = {
      ...process.memoryUsage(),
      heapPhysical: getHeapStatistics().total_physical_size,
      afterFullGcs: statistics.filter((s) => s.gcType === 'MarkSweepCompact').map((s) => s.afterGC.heapStatistics.usedHeapSize),
      scavenges: statistics.filter((s) => s.gcType === 'Scavenge').length,
    };
    process.send?.({ memoryReport: report });
  });
  // Listening must not keep the server alive once it wants to exit.
  process.channel?.unref();
}
