import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { alive, gone, logLine, processesMentioning, ready, runLatch, type LatchProcess } from '../support/latch-process.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { freePort, startRedis, type TestRedis } from '../support/redis-server.js';
import { ALICE, API_A, SECRETS, testFileConfig } from '../support/test-config.js';

/**
 * The first run (README "Run it"): development mode, no REDIS_URL, nothing listening at the
 * default address. This machine (and CI) runs a Redis on 6379, which a test cannot stop, so the
 * tests point the probed default address (LATCH_DEV_REDIS_PROBE) at a closed port; each run has its
 * own working directory, so `.latch/redis/` is a fresh one and never the developer's.
 */
const configFile = join(mkdtempSync(join(tmpdir(), 'latch-dev-redis-config-')), 'latch.json');
writeFileSync(configFile, JSON.stringify(testFileConfig()));
const running: LatchProcess[] = [];
let closedPort: number;
let redis: TestRedis;

const workdir = () => realpathSync(mkdtempSync(join(tmpdir(), 'latch-first-run-')));
const isStartLine = (line: Record<string, unknown>) => typeof line.redisPid === 'number';
const apiA: [string, string] = ['api-a', SECRETS.apiA];

async function start(cwd: string, env: Record<string, string> = {}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = runLatch({ PORT: String(port), ISSUER: base, LATCH_CONFIG: configFile, LATCH_DEV_REDIS_PROBE: `127.0.0.1:${closedPort}`, LOG_LEVEL: 'info', ...env }, cwd);
  running.push(proc);
  return { proc, base };
}

/** A directory holding a `redis-server` shell script (first on PATH, before the real one). */
function fakeRedisServer(script: string): string {
  const bin = mkdtempSync(join(tmpdir(), 'latch-fake-redis-'));
  writeFileSync(join(bin, 'redis-server'), `#!/bin/sh\n${script}\n`);
  chmodSync(join(bin, 'redis-server'), 0o755);
  return bin;
}

async function clientCredentialsToken(base: string): Promise<string> {
  const issued = await postForm(`${base}/token`, { grant_type: 'client_credentials', scope: 'a:read', resource: API_A }, ['svc', SECRETS.svc]);
  expect(issued.status).toBe(200);
  return issued.json!.access_token as string;
}

beforeAll(async () => {
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  closedPort = await freePort();
  redis = await startRedis();
}, 120_000);
afterAll(async () => {
  running.forEach((proc) => proc.child.kill('SIGKILL'));
  await redis.close();
});

/**
 * The processes of a run still alive after up to 5 s: a watchdog exits right after the redis-server
 * it stopped, which takes a moment on a busy machine; an orphan stays.
 */
async function leftBehind(cwd: string): Promise<number[]> {
  for (let i = 0; i < 50 && processesMentioning(cwd).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  return processesMentioning(cwd);
}

describe('first run without a Redis (development)', () => {
  it('starts its own redis-server, serves a login and an introspection on it, and stops it on SIGTERM', async () => {
    const cwd = workdir();
    const { proc, base } = await start(cwd);
    expect(await ready(base)).toBe(true);

    // Said in one line: where, which process, where the data lives.
    const starts = proc.logs().filter(isStartLine);
    expect(starts).toHaveLength(1);
    const { redis: url, redisPid } = starts[0] as { redis: string; redisPid: number };
    expect(starts[0]).toMatchObject({ level: 30, dir: '.latch/redis/' });
    expect(starts[0]!.msg).toBe(
      `no REDIS_URL and nothing at 127.0.0.1:${closedPort}: started a development redis-server (loopback only, AOF in .latch/redis/); it stops with Latch`,
    );
    expect(url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(alive(redisPid)).toBe(true);

    // Loopback only, AOF on, data under .latch/redis/ of the working directory.
    const inspect = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await inspect.connect();
    expect(await inspect.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    expect(await inspect.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await inspect.config('GET', 'appendfsync')).toEqual(['appendfsync', 'everysec']);
    expect(await inspect.config('GET', 'dir')).toEqual(['dir', join(cwd, '.latch/redis')]);
    inspect.disconnect();

    // A user login (code + PKCE through the real pages) and an introspection, served on that Redis.
    const { tokens } = await logIn(base, await webClient(base));
    const answer = await postForm(`${base}/introspect`, { token: tokens.access_token }, apiA);
    expect(answer.json).toMatchObject({ active: true, sub: 'sub-alice', username: ALICE.username, aud: API_A });

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    // Stopped before Latch exited, and nothing of this run is left: no redis-server, no watchdog.
    expect(alive(redisPid)).toBe(false);
    expect(await leftBehind(cwd)).toEqual([]);
    expect(existsSync(join(cwd, '.latch/redis/appendonlydir'))).toBe(true);
    expect(existsSync(join(cwd, '.latch/redis/latch.lock'))).toBe(false);
    expect(proc.err()).toBe('');
  }, 60_000);

  it('keeps its data in .latch/redis/ across restarts: a token issued before is still active after', async () => {
    const cwd = workdir();
    const first = await start(cwd);
    expect(await ready(first.base)).toBe(true);
    const token = await clientCredentialsToken(first.base);
    first.proc.child.kill('SIGTERM');
    expect(await first.proc.exited).toBe(0);

    const second = await start(cwd);
    expect(await ready(second.base)).toBe(true);
    expect(second.proc.logs().filter(isStartLine)).toHaveLength(1);
    expect((await postForm(`${second.base}/introspect`, { token }, apiA)).json).toMatchObject({ active: true, client_id: 'svc' });
    second.proc.child.kill('SIGTERM');
    expect(await second.proc.exited).toBe(0);
  }, 60_000);

  it('leaves no redis-server behind when Latch is killed with SIGKILL', async () => {
    const cwd = workdir();
    const { proc, base } = await start(cwd);
    expect(await ready(base)).toBe(true);
    const { redisPid } = (await logLine(proc, isStartLine)) as { redisPid: number };
    // The watchdog (redis-server rewrites its own command line, so only it names the directory).
    const watchdogs = processesMentioning(cwd);
    expect(watchdogs).toHaveLength(1);

    proc.child.kill('SIGKILL');
    await proc.exited;
    expect(await gone(redisPid)).toBe(true);
    expect(await gone(watchdogs[0]!)).toBe(true);
    expect(await leftBehind(cwd)).toEqual([]);
    // Redis was stopped, not killed: it flushed its AOF and said goodbye.
    expect(readFileSync(join(cwd, '.latch/redis/redis.log'), 'utf8')).toContain('Redis is now ready to exit, bye bye');
  }, 60_000);

  it('with LATCH_WORKERS=2, leaves neither workers nor redis-server behind when the primary is killed with SIGKILL', async () => {
    const cwd = workdir();
    const { proc, base } = await start(cwd, { LATCH_WORKERS: '2' });
    expect(await ready(base)).toBe(true);
    const { redisPid } = (await logLine(proc, isStartLine)) as { redisPid: number };
    const workers = await Promise.all([1, 2].map((n) => logLine(proc, (l) => l.worker === n && l.msg === 'latch listening')));
    const workerPids = workers.map((l) => l.pid as number);
    expect(workerPids.every(alive)).toBe(true);

    proc.child.kill('SIGKILL');
    await proc.exited;
    for (const pid of [redisPid, ...workerPids]) expect(await gone(pid)).toBe(true);
    expect(await leftBehind(cwd)).toEqual([]);
  }, 60_000);

  it('names what is missing and how to get it when there is no redis-server on PATH', async () => {
    const cwd = workdir();
    const { proc } = await start(cwd, { PATH: mkdtempSync(join(tmpdir(), 'latch-empty-path-')) });
    expect(await proc.exited).toBe(1);
    expect(proc.err()).toBe(
      `latch: invalid configuration: REDIS_URL: not set, nothing answers at 127.0.0.1:${closedPort}, and there is no redis-server on PATH for Latch to start its own development Redis. ` +
        'Install Redis — Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis — ' +
        'or run one with Docker: docker run -d -p 127.0.0.1:6379:6379 redis:7; or set REDIS_URL to your Redis\n',
    );
    expect(existsSync(join(cwd, '.latch/redis'))).toBe(false);
  });

  it("stops with redis-server's own words when it cannot start, and leaves the directory free", async () => {
    const cwd = workdir();
    const bin = fakeRedisServer(`echo '*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***' >&2; echo "Bad directive or wrong number of arguments" >&2; exit 1`);
    const { proc } = await start(cwd, { PATH: `${bin}:/usr/bin:/bin` });
    expect(await proc.exited).toBe(1);
    expect(proc.err()).toBe(
      `latch: invalid configuration: REDIS_URL: not set and nothing answers at 127.0.0.1:${closedPort}; the development Redis (${bin}/redis-server) did not start: ` +
        'redis-server exited with code 1: *** FATAL CONFIG FILE ERROR (Redis 7.0.15) *** Bad directive or wrong number of arguments\n',
    );
    expect(existsSync(join(cwd, '.latch/redis/latch.lock'))).toBe(false);
    expect(await leftBehind(cwd)).toEqual([]);
  });

  it('tries another free port when the one it picked was taken before redis-server could bind it', async () => {
    const cwd = workdir();
    const real = execFileSync('sh', ['-c', 'command -v redis-server']).toString().trim();
    const attempts = join(cwd, 'attempts');
    // The first attempt fails the way redis-server does when its port is taken: in its log file.
    const bin = fakeRedisServer(
      `echo x >> '${attempts}'\n` +
        `if [ "$(wc -l < '${attempts}')" -eq 1 ]; then echo '1:M # Warning: Could not create server TCP listening socket 127.0.0.1:1: bind: Address already in use' >> '${cwd}/.latch/redis/redis.log'; exit 1; fi\n` +
        `exec '${real}' "$@"`,
    );
    const { proc, base } = await start(cwd, { PATH: `${bin}:/usr/bin:/bin` });
    expect(await ready(base)).toBe(true);
    expect(readFileSync(attempts, 'utf8')).toBe('x\nx\n');
    expect(proc.logs().filter(isStartLine)).toHaveLength(1);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(await leftBehind(cwd)).toEqual([]);
  }, 30_000);

  it('never starts one when REDIS_URL names a Redis that does not answer: that is an error', async () => {
    const cwd = workdir();
    const { proc } = await start(cwd, { REDIS_URL: `redis://127.0.0.1:${closedPort}`, LATCH_REDIS_STARTUP_TIMEOUT_MS: '500' });
    expect(await proc.exited).toBe(1);
    expect(proc.err()).toMatch(new RegExp(`^latch: invalid configuration: REDIS_URL: cannot connect to 127\\.0\\.0\\.1:${closedPort}`));
    expect(proc.logs().filter(isStartLine)).toEqual([]);
    expect(existsSync(join(cwd, '.latch/redis'))).toBe(false);
  });

  it('uses a Redis that answers at the default address instead of starting one', async () => {
    const cwd = workdir();
    await redis.client.flushall();
    const { proc, base } = await start(cwd, { LATCH_DEV_REDIS_PROBE: `127.0.0.1:${redis.port}` });
    expect(await ready(base)).toBe(true);
    expect(proc.logs().filter(isStartLine)).toEqual([]);
    await clientCredentialsToken(base);
    expect(await redis.client.dbsize()).toBeGreaterThan(0);
    expect(existsSync(join(cwd, '.latch/redis'))).toBe(false);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });

  it('refuses to run a second redis-server on the same .latch/redis/, naming the running one', async () => {
    const cwd = workdir();
    const first = await start(cwd);
    expect(await ready(first.base)).toBe(true);
    const { redis: url } = (await logLine(first.proc, isStartLine)) as { redis: string };

    const second = await start(cwd);
    expect(await second.proc.exited).toBe(1);
    expect(second.proc.err()).toMatch(
      new RegExp(`^latch: invalid configuration: REDIS_URL: not set, and the development Redis of \\.latch/redis/ is already in use by another Latch \\(process \\d+\\); stop that one, or set REDIS_URL=${url.replace(/[./]/g, '\\$&')} to share it\\n$`),
    );
    first.proc.child.kill('SIGTERM');
    expect(await first.proc.exited).toBe(0);
  }, 60_000);
});
