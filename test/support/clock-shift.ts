import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis, type TestRedis } from './redis-server.js';

let shim: string | undefined;

/** Builds clock-shift.c (once per test process) with the machine's C compiler. */
function buildShim(): string {
  if (shim) return shim;
  const source = fileURLToPath(new URL('./clock-shift.c', import.meta.url));
  const out = join(mkdtempSync(join(tmpdir(), 'latch-clock-')), 'clock-shift.so');
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', out, source]);
  shim = out;
  return out;
}

export interface ShiftedRedis extends TestRedis {
  /** Steps this server's wall clock to `ms` away from the real time (forwards or back). */
  shift(ms: number): void;
}

/** A real redis-server whose wall clock (Redis `TIME`) runs `ms` away from the machine's. */
export async function startShiftedRedis(ms: number, extraArgs: string[] = []): Promise<ShiftedRedis> {
  const file = join(mkdtempSync(join(tmpdir(), 'latch-clock-')), 'shift');
  const shift = (value: number) => {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64LE(BigInt(value));
    // Rewritten in place (same inode): the running server sees the new value at its next call.
    writeFileSync(file, buffer);
  };
  shift(ms);
  const redis = await startRedis(extraArgs, { LD_PRELOAD: buildShim(), CLOCK_SHIFT_FILE: file });
  return { ...redis, shift };
}

/** Redis `TIME` of `redis`, in ms. */
export async function redisNow(redis: TestRedis): Promise<number> {
  const [s, us] = await redis.client.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}
