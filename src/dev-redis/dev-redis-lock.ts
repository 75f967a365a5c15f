import { openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { ConfigError } from '../config/config-error.js';

/** Who owns a data directory: the process whose end frees it (the watchdog), and its Redis's port. */
interface Owner {
  pid: number;
  port?: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it just is not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerOf(lockFile: string): Owner | undefined {
  try {
    return JSON.parse(readFileSync(lockFile, 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

/**
 * Takes the data directory for this process. Two redis-servers appending to one AOF directory
 * would corrupt it, so a second Latch in the same directory refuses to start instead (naming the
 * running one, which it can share through REDIS_URL). A lock whose owner is gone is stale (a
 * SIGKILLed watchdog) and is taken over.
 */
export function acquireDevRedisLock(lockFile: string, displayDir: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeFileSync(fd, JSON.stringify({ pid: process.pid } satisfies Owner));
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = ownerOf(lockFile);
    if (owner && alive(owner.pid)) {
      const share = owner.port ? `, or set REDIS_URL=redis://127.0.0.1:${owner.port} to share it` : '';
      throw new ConfigError('REDIS_URL', `not set, and the development Redis of ${displayDir} is already in use by another Latch (process ${owner.pid}); stop that one${share}`);
    }
    rmSync(lockFile, { force: true });
  }
  throw new ConfigError('REDIS_URL', `not set, and the lock ${lockFile} of the development Redis could not be taken`);
}

/** Hands the lock to the watchdog, which releases it when its Redis has stopped. */
export function recordDevRedisOwner(lockFile: string, owner: Owner): void {
  writeFileSync(lockFile, JSON.stringify(owner), { mode: 0o600 });
}

/** Gives the lock up (start-up failed before a watchdog took it). */
export function releaseDevRedisLock(lockFile: string): void {
  if (ownerOf(lockFile)?.pid === process.pid) rmSync(lockFile, { force: true });
}
