import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/config-error.js';
import { nodeUrl, type RedisNode } from '../config/redis-target.js';
import type { Logger } from '../log/logger.js';
import { acquireDevRedisLock, recordDevRedisOwner, releaseDevRedisLock } from './dev-redis-lock.js';
import { findOnPath, missingRedisServer } from './redis-server-binary.js';
import type { WatchdogMessage } from './watchdog.js';

/** The Redis development mode runs on. */
export interface DevRedis {
  /** Where Latch (and each of its workers) connects. */
  url: string;
  /** The redis-server Latch started, or undefined when one already answered at the probe address. */
  pid?: number;
  /** Stops the redis-server Latch started and waits for it (nothing when it found one running). */
  stop(): Promise<void>;
}

export interface DevRedisOptions {
  /** Where to look for a running Redis first (LATCH_DEV_REDIS_PROBE, default 127.0.0.1:6379). */
  probe: RedisNode;
  /** The data directory of Latch's own Redis (.latch/redis). */
  dir: string;
  /** How long redis-server may take to answer (it may be replaying a large AOF). */
  startupTimeoutMs: number;
  /** PATH, where redis-server is looked up. */
  path: string | undefined;
}

const WATCHDOG = fileURLToPath(new URL('./watchdog.js', import.meta.url));
const PORT_ATTEMPTS = 3;

/** True when something accepts a TCP connection at `node` within 500 ms. */
function answers(node: RedisNode): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(node.port, node.host);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Resolves true on +PONG (a Redis still loading its AOF answers -LOADING: not yet). */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.once('error', () => done(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Loopback only, AOF on (fsync every second), no RDB snapshots, logs in the data directory. */
function redisArguments(port: number, dir: string, logFile: string): string[] {
  return [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--protected-mode', 'yes',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--logfile', logFile,
    '--daemonize', 'no',
  ];
}

class StartFailure extends Error {
  constructor(
    message: string,
    readonly portTaken: boolean,
  ) {
    super(message);
  }
}

/** What redis-server wrote to its log since `from` bytes (its own words on why it stopped). */
function logSince(logFile: string, from: number): string {
  try {
    return readFileSync(logFile).subarray(from).toString();
  } catch {
    return '';
  }
}

const sizeOf = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

/** Starts one watchdog + redis-server on `port` and waits until Redis answers PING. */
async function launch(binary: string, port: number, options: DevRedisOptions, lockFile: string): Promise<{ watchdog: ChildProcess; pid: number }> {
  const logFile = join(options.dir, 'redis.log');
  const logStart = sizeOf(logFile);
  const watchdog = fork(WATCHDOG, [lockFile, binary, ...redisArguments(port, options.dir, logFile)], {
    // Its own process group: a Ctrl-C reaches Latch, which drains before it stops Redis.
    detached: true,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: [],
  });
  recordDevRedisOwner(lockFile, { pid: watchdog.pid!, port });
  let pid: number | undefined;
  let exited: Extract<WatchdogMessage, { type: 'exited' }> | undefined;
  watchdog.on('message', (message: WatchdogMessage) => {
    if (message.type === 'spawned') pid = message.pid;
    if (message.type === 'exited') exited = message;
  });
  const gone = new Promise<void>((resolve) => watchdog.once('exit', () => resolve()));
  const ended = () => exited !== undefined || watchdog.exitCode !== null || watchdog.signalCode !== null;

  const deadline = Date.now() + options.startupTimeoutMs;
  for (;;) {
    if (ended()) {
      await gone;
      // Before it opens its log, redis-server writes to stderr; after, only to the log.
      const words = exited?.output.trim() || logSince(logFile, logStart).trim();
      const said = words.split('\n').slice(-2).join(' ').trim();
      const how = exited ? (exited.signal ? `was killed by ${exited.signal}` : `exited with code ${exited.code}`) : 'stopped';
      throw new StartFailure(`redis-server ${how}${said ? `: ${said}` : ''}`, /address already in use/i.test(said));
    }
    if (pid !== undefined && (await pong(port))) return { watchdog, pid };
    if (Date.now() > deadline) {
      watchdog.kill('SIGTERM');
      await gone;
      throw new StartFailure(`redis-server did not answer on 127.0.0.1:${port} within ${options.startupTimeoutMs} ms (LATCH_REDIS_STARTUP_TIMEOUT_MS); see ${logFile}`, false);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Development only (config/load.ts decides: no Redis variable set, NODE_ENV is not production).
 * Uses the Redis at the probe address when something answers there; otherwise starts
 * `redis-server` from PATH with its data under `dir`, on a free loopback port, and says so in one
 * log line. The server stops with Latch: `stop()` on a clean shutdown, and the watchdog
 * (watchdog.ts) when Latch dies in any other way — a crash or SIGKILL included — so none is left behind.
 */
export async function developmentRedis(options: DevRedisOptions, logger: Logger): Promise<DevRedis> {
  if (await answers(options.probe)) return { url: nodeUrl(options.probe), stop: async () => {} };

  const binary = findOnPath('redis-server', options.path);
  if (!binary) throw new ConfigError('REDIS_URL', missingRedisServer(options.probe));
  const shownDir = `${relative(process.cwd(), options.dir) || options.dir}/`;
  // Only this user reads the data: it holds token records and password hashes.
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const lockFile = join(options.dir, 'latch.lock');

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    acquireDevRedisLock(lockFile, shownDir);
    let started: Awaited<ReturnType<typeof launch>>;
    try {
      started = await launch(binary, port, options, lockFile);
    } catch (err) {
      releaseDevRedisLock(lockFile);
      // Another program took the port between our check and redis-server's bind: try another.
      if (err instanceof StartFailure && err.portTaken && attempt < PORT_ATTEMPTS) continue;
      throw new ConfigError('REDIS_URL', `not set and nothing answers at ${options.probe.host}:${options.probe.port}; the development Redis (${binary}) did not start: ${(err as Error).message}`);
    }
    const { watchdog, pid } = started;
    const url = `redis://127.0.0.1:${port}`;
    let stopping = false;
    const exited = new Promise<void>((resolve) => watchdog.once('exit', () => resolve()));
    watchdog.on('message', (message: WatchdogMessage) => {
      if (message.type !== 'exited' || stopping) return;
      logger.error(
        { redis: url, code: message.code, signal: message.signal },
        `the development Redis stopped on its own; Latch answers 503 until it is back: restart Latch (redis log: ${shownDir}redis.log)`,
      );
    });
    // The IPC channel must not keep Latch alive on its own; it still closes when Latch ends.
    watchdog.unref();
    watchdog.channel?.unref();
    logger.info(
      { redis: url, redisPid: pid, dir: shownDir },
      `no REDIS_URL and nothing at ${options.probe.host}:${options.probe.port}: started a development redis-server (loopback only, AOF in ${shownDir}); it stops with Latch`,
    );
    return {
      url,
      pid,
      async stop() {
        stopping = true;
        if (watchdog.exitCode !== null || watchdog.signalCode !== null) return;
        // Closing the channel is the watchdog's cue, the same one Latch's death would give.
        if (watchdog.connected) watchdog.disconnect();
        const timer = setTimeout(() => {
          watchdog.kill('SIGKILL');
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }, 12_000);
        await exited;
        clearTimeout(timer);
      },
    };
  }
}
