/**
 * The development Redis's watchdog, started by dev-redis.ts (never by hand):
 *   node watchdog.js <lock file> <redis-server> <redis-server arguments…>
 * It runs redis-server as its own child and stops it as soon as Latch is gone. Node cannot ask the
 * kernel to signal a child when its parent dies (Linux's prctl(PR_SET_PDEATHSIG) is not reachable
 * from Node, and other systems have nothing like it), but an IPC channel closes whenever the
 * process at its other end ends — exit, crash or SIGKILL alike — so 'disconnect' is the one event
 * every way of Latch dying produces. Latch starts this process detached (its own process group), so
 * a Ctrl-C in the terminal reaches Latch, which drains first and then stops Redis through here.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

/** What the watchdog tells Latch over IPC. */
export type WatchdogMessage = { type: 'spawned'; pid: number } | { type: 'exited'; code: number | null; signal: string | null; output: string };

const [lockFile, binary, ...args] = process.argv.slice(2);
if (!lockFile || !binary) {
  process.stderr.write('usage: node watchdog.js <lock file> <redis-server> [arguments]\n');
  process.exit(2);
}

// Redis logs to its logfile; stdout and stderr carry only what it says before opening it (a bad
// argument, a port in use), kept for Latch's error message.
const redis = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
let output = '';
const keep = (chunk: Buffer) => {
  output = (output + chunk.toString()).slice(-2000);
};
redis.stdout.on('data', keep);
redis.stderr.on('data', keep);

function tell(message: WatchdogMessage, then: () => void = () => {}) {
  if (!process.connected) return then();
  process.send!(message, (err: Error | null) => {
    if (err) return then();
    then();
  });
}

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  // SIGTERM: redis-server fsyncs its AOF and exits; SIGKILL only if it hangs.
  redis.kill('SIGTERM');
  setTimeout(() => redis.kill('SIGKILL'), 10_000).unref();
}

/** Removes the lock only if it is still this watchdog's (a stale one may have been replaced). */
function releaseLock() {
  try {
    if ((JSON.parse(readFileSync(lockFile!, 'utf8')) as { pid?: number }).pid === process.pid) rmSync(lockFile!, { force: true });
  } catch {
    // No lock, or not ours: nothing to release.
  }
}

process.on('disconnect', stop);
process.on('SIGTERM', stop);
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});

redis.once('spawn', () => tell({ type: 'spawned', pid: redis.pid! }));
redis.once('error', (err) => {
  releaseLock();
  tell({ type: 'exited', code: null, signal: null, output: `${binary}: ${err.message}` }, () => process.exit(1));
});
redis.once('exit', (code, signal) => {
  releaseLock();
  tell({ type: 'exited', code, signal, output }, () => process.exit(0));
});
