import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What a server under test reports to the bench once it listens. */
export interface ReadyMessage {
  ready: true;
  url: string;
}

export interface ChildServer {
  url: string;
  pid: number;
  /** The process itself, for IPC with a preloaded probe (lib/memory-sampler.ts). */
  child: ChildProcess;
  /** Asks the child to exit cleanly (so `--cpu-prof` can write its profile), then kills it. */
  close(): Promise<void>;
}

const serversDir = new URL('../servers/', import.meta.url);

/** `close()` asks the child to stop (`stop`), and kills it if it has not exited after `graceMs`. */
function serverOf(child: ChildProcess, url: string, stop: () => void, graceMs: number): ChildServer {
  return {
    url,
    pid: child.pid!,
    child,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      stop();
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Starts `bench/servers/<name>.js` as its own Node process: the server under test and the load
 * generator must not share an event loop. Options travel as JSON in BENCH_SERVER_OPTIONS; the
 * child answers `{ ready, url }` over IPC once it listens on a loopback port.
 */
export async function startServer(name: string, options: unknown, nodeArgs: string[] = []): Promise<ChildServer> {
  return startEntry(fileURLToPath(new URL(`${name}.js`, serversDir)), options, nodeArgs);
}

export async function startEntry(entry: string, options: unknown, nodeArgs: string[] = [], env: Record<string, string> = {}): Promise<ChildServer> {
  const child: ChildProcess = fork(entry, [], {
    execArgv: nodeArgs,
    env: { ...process.env, ...env, BENCH_SERVER_OPTIONS: JSON.stringify(options ?? {}) },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not report ready within 20 s: ${stderr}`)), 20_000);
    child.on('message', (message: ReadyMessage) => {
      if (message?.ready) {
        clearTimeout(timer);
        resolve(message.url);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code} before listening: ${stderr}`));
    });
  });
  return serverOf(child, url, () => child.send({ stop: true }), 5000);
}

/**
 * Starts a program that is configured by environment and serves on a port the bench chose (the
 * compiled `dist/src/main.js`, an example API), and waits until `readyPath` (a path under `url`, or
 * an absolute URL such as Latch's operations listener) answers 2xx.
 */
export async function startProgram(
  entry: string,
  env: Record<string, string>,
  url: string,
  readyPath: string,
  nodeArgs: string[] = [],
): Promise<ChildServer> {
  const child: ChildProcess = fork(entry, [], { execArgv: nodeArgs, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const deadline = Date.now() + 30_000;
  const probe = /^https?:/.test(readyPath) ? readyPath : url + readyPath;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${entry} exited with ${child.exitCode}: ${stderr}`);
    const ok = await fetch(probe).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${entry} was not ready at ${probe} within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return serverOf(child, url, () => child.kill('SIGTERM'), 12_000);
}
