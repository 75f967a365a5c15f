import { readdirSync, readFileSync } from 'node:fs';

/**
 * How much CPU processes *outside* the bench used while a measurement ran, in cores (Linux /proc;
 * undefined elsewhere). On a shared 2-core box a concurrent `tsc` or test run can halve a result;
 * this number says whether a run was disturbed.
 */
export interface CpuSnapshot {
  busy: number;
  total: number;
  ours: number;
  at: number;
}

const TICKS_PER_SECOND = 100;

function systemTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** utime + stime of this process and every process descended from it. */
function ourTicks(): number {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(entry), Number(rest[1]));
      ticks.set(Number(entry), Number(rest[11]) + Number(rest[12]));
    } catch {
      // The process ended while we looked.
    }
  }
  let sum = 0;
  for (const [pid, t] of ticks) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parent.get(p)) {
      if (p === process.pid) {
        sum += t;
        break;
      }
    }
  }
  return sum;
}

export function cpuSnapshot(): CpuSnapshot | undefined {
  try {
    return { ...systemTicks(), ours: ourTicks(), at: Date.now() };
  } catch {
    return undefined;
  }
}

/** Cores used by other processes between two snapshots. */
export function foreignCores(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined): number | undefined {
  if (!before || !after) return undefined;
  const seconds = (after.at - before.at) / 1000;
  if (seconds <= 0) return undefined;
  const foreign = after.busy - before.busy - (after.ours - before.ours);
  return Math.max(0, Math.round((foreign / TICKS_PER_SECOND / seconds) * 100) / 100);
}
