import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';

/** `npm start` runs the compiled server; these helpers run that same file as a real process. */
export const MAIN = resolve('dist/src/main.js');

export interface LatchProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  out(): string;
  err(): string;
  /** Every JSON log line written so far (stdout), parsed. */
  logs(): Array<Record<string, unknown>>;
}

/**
 * Starts `dist/src/main.js` with exactly `env` (plus PATH unless given) in `cwd`. No operations
 * listener unless `env` sets LATCH_OPS_PORT (its default port would be shared by every process).
 */
export function runLatch(env: Record<string, string>, cwd = process.cwd()): LatchProcess {
  const child = spawn(process.execPath, [MAIN], { cwd, env: { PATH: process.env.PATH!, LATCH_OPS_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const logs = () =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { child, exited, out: () => stdout, err: () => stderr, logs };
}

/** Polls `/healthz` of the public listener (it listens once Redis answered at start-up) for up to `ms`. */
export async function ready(base: string, ms = 15_000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Waits up to `ms` for a log line matching `match`. */
export async function logLine(proc: LatchProcess, match: (line: Record<string, unknown>) => boolean, ms = 15_000): Promise<Record<string, unknown>> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    const line = proc.logs().find(match);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no such log line within ${ms} ms; stdout:\n${proc.out()}\nstderr:\n${proc.err()}`);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits up to `ms` for `pid` to be gone (a killed child is reaped by its parent, or by init). */
export async function gone(pid: number, ms = 5000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (!alive(pid) || zombie(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function zombie(pid: number): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ''));
  } catch {
    return false;
  }
}

/** Pids of the live processes whose command line contains `text` (Linux /proc). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text) && !zombie(Number(entry))) pids.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}

/** A GET on a connection of its own (no keep-alive): the cluster hands each one to the next worker. */
export function getOnNewConnection(url: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => done({ status: res.statusCode!, body }));
    });
    req.once('error', fail);
    req.end();
  });
}
