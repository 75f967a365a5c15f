import { readFileSync } from 'node:fs';

/**
 * CPU time a process spent (utime + stime from /proc/<pid>/stat), for CPU microseconds per request:
 * steadier than req/s on a shared machine (a competing process slows a run down but adds no CPU
 * time to the server's requests), and what a deployment sizes its cores by. Linux only.
 */
const TICK_US = 1e6 / 100; // USER_HZ is 100 on every Linux Node supports

/** CPU ticks (user + system) of `pid` so far; undefined when unreadable (not Linux, process gone). */
export function processTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself contain spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return undefined;
  }
}

export type ProcessTicks = Record<string, number | undefined>;

/** Ticks of each named process (or group of processes: a cluster's nodes) now. */
export function processSnapshot(pids: Record<string, number | number[]>): ProcessTicks {
  const sum = (list: number[]) => list.reduce<number | undefined>((total, pid) => {
    const ticks = processTicks(pid);
    return total === undefined || ticks === undefined ? undefined : total + ticks;
  }, 0);
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, sum([pid].flat())]));
}

/** CPU µs per request of each named process between two snapshots (whole µs). */
export function cpuMicrosPerRequest(before: ProcessTicks, after: ProcessTicks, requests: number): Record<string, number> {
  const out: Record<string, number> = {};
  if (requests <= 0) return out;
  for (const [name, ticks] of Object.entries(after)) {
    const start = before[name];
    if (ticks === undefined || start === undefined) continue;
    out[name] = Math.round(((ticks - start) * TICK_US) / requests);
  }
  return out;
}

/** "Latch 62 + Redis 18 = 80 µs" (names in the order given). */
export function formatCpu(us: Record<string, number> | undefined): string | undefined {
  if (!us) return undefined;
  const parts = Object.entries(us);
  if (parts.length === 0) return undefined;
  const total = parts.reduce((sum, [, v]) => sum + v, 0);
  const listed = parts.map(([name, v]) => `${name} ${v}`).join(' + ');
  return parts.length > 1 ? `${listed} = ${total}` : listed;
}
