import type { LoadResult } from './load.js';
import { cpus } from 'node:os';
import { formatCpu } from './process-cpu.js';

/** One line of the results table. Load rows carry rps/p50/p99; others carry a `value`. */
export interface Row {
  section: string;
  name: string;
  rps?: number;
  p50?: number;
  p99?: number;
  /** CPU µs per request of the processes serving it ("Latch 62 + Redis 18 = 80"). */
  cpu?: string;
  /** A non-load measurement, already formatted ("312 B/token", "0 stale"). */
  value?: string;
  /** Ratio(s) against a reference measured in the same run ("0.42× limit"). */
  vs?: string;
  target?: string;
  /** true/false against `target`; undefined when there is no target or it could not be judged. */
  met?: boolean;
  skipped?: string;
  note?: string;
}

export function skippedRow(section: string, name: string, reason: string, target?: string): Row {
  return { section, name, skipped: reason, target };
}

const fmt = (n: number | undefined, digits = 0) => (n === undefined || Number.isNaN(n) ? '' : n.toFixed(digits));

/** The table as GitHub markdown (it is pasted into docs/benchmarks.md as is). */
export function markdownTable(rows: Row[]): string {
  const header = ['Scenario', 'Subject', 'req/s', 'CPU µs/req', 'p50 ms', 'p99 ms', 'Value', 'vs reference', 'Target', 'Met'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i >= 2 && i <= 5 ? '---:' : '---')).join('|')}|`];
  for (const r of rows) {
    const met = r.skipped ? 'skipped' : r.met === undefined ? '' : r.met ? 'yes' : '**no**';
    const value = r.skipped ? `skipped: ${r.skipped}` : [r.value, r.note].filter(Boolean).join('; ');
    const cells = [r.section, r.name, fmt(r.rps), r.cpu ?? '', fmt(r.p50, 2), fmt(r.p99, 2), value, r.vs ?? '', r.target ?? '', met];
    lines.push(`| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  return lines.join('\n');
}

export function machine() {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** `a / b` to two decimals, or undefined when either side is missing. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return undefined;
  return Math.round((a / b) * 100) / 100;
}

/** The load columns of a row, with a note when responses failed or other processes competed. */
export function loadCells(r: LoadResult): Pick<Row, 'rps' | 'cpu' | 'p50' | 'p99' | 'note'> {
  const notes: string[] = [];
  if (r.rejected) notes.push(`${r.rejected} responses not the expected answer or failed`);
  if (r.foreignCores !== undefined && r.foreignCores >= 0.1) notes.push(`other processes used ${r.foreignCores} cores meanwhile`);
  return { rps: r.rps, cpu: formatCpu(r.cpuUs), p50: r.p50, p99: r.p99, note: notes.length ? notes.join('; ') : undefined };
}
