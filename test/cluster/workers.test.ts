import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { BrowserSession } from '../support/browser-session.js';
import { alive, gone, getOnNewConnection, logLine, ready, runLatch, type LatchProcess } from '../support/latch-process.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { freePort, startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A, SECRETS, testFileConfig } from '../support/test-config.js';

/** LATCH_WORKERS=2 as the real process (dist/src/main.js): one port, two worker processes, one Redis. */
const dir = mkdtempSync(join(tmpdir(), 'latch-workers-'));
const configFile = join(dir, 'latch.json');
writeFileSync(configFile, JSON.stringify(testFileConfig()));
const apiA: [string, string] = ['api-a', SECRETS.apiA];
let redis: TestRedis;
const running: LatchProcess[] = [];

/** A browser whose every request opens its own connection, so the cluster spreads them over the workers. */
class OneConnectionPerRequest extends BrowserSession {
  readonly #dispatcher = new Agent({ pipelining: 0 });
  override request(url: string, init: RequestInit = {}): Promise<Response> {
    return super.request(url, { ...init, dispatcher: this.#dispatcher } as RequestInit);
  }
}

async function start(env: Record<string, string> = {}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = runLatch({ PORT: String(port), ISSUER: base, REDIS_URL: redis.url, LATCH_CONFIG: configFile, LATCH_DEV_KEYS_FILE: join(dir, 'keys.json'), LATCH_WORKERS: '2', LOG_LEVEL: 'debug', ...env });
  running.push(proc);
  expect(await ready(base)).toBe(true);
  const workers = await Promise.all([1, 2].map((n) => logLine(proc, (l) => l.worker === n && l.msg === 'latch listening')));
  return { proc, base, port, workerPids: workers.map((l) => l.pid as number) };
}

/** Request log lines written after `from` lines: which worker process served which path. */
const servedSince = (proc: LatchProcess, from: number) =>
  proc
    .logs()
    .slice(from)
    .filter((l) => l.msg === 'request')
    .map((l) => ({ worker: l.worker as number, pid: l.pid as number, path: l.path as string }));

beforeAll(async () => {
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  redis = await startRedis();
}, 120_000);
afterAll(async () => {
  running.forEach((proc) => proc.child.kill('SIGKILL'));
  await redis.close();
});

describe('LATCH_WORKERS=2', () => {
  let latch: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    latch = await start();
  }, 60_000);
  afterAll(async () => {
    latch.proc.child.kill('SIGTERM');
    await latch.proc.exited;
  });

  it('serves one port from two worker processes, each logging its worker id', async () => {
    expect(new Set(latch.workerPids).size).toBe(2);
    expect(latch.workerPids).not.toContain(latch.proc.child.pid);
    const from = latch.proc.logs().length;
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await getOnNewConnection(`${latch.base}/healthz`));
    expect(answers).toEqual(Array(20).fill({ status: 200, body: '{"status":"ok"}' }));
    await new Promise((r) => setTimeout(r, 200));
    const served = servedSince(latch.proc, from).filter((s) => s.path === '/healthz');
    expect(served).toHaveLength(20);
    expect(new Set(served.map((s) => s.pid))).toEqual(new Set(latch.workerPids));
    expect(new Set(served.map((s) => s.worker))).toEqual(new Set([1, 2]));
  });

  it('finishes on one worker a login started on the other (sessions and interactions live in Redis)', async () => {
    const from = latch.proc.logs().length;
    const { tokens } = await logIn(latch.base, await webClient(latch.base), { browser: new OneConnectionPerRequest() });
    await new Promise((r) => setTimeout(r, 200));
    const steps = servedSince(latch.proc, from).filter((s) => s.path.startsWith('/auth') || s.path.startsWith('/interaction'));
    // /auth → login page → login POST → consent → /auth resume…: each step needs what the previous one stored.
    expect(steps.length).toBeGreaterThanOrEqual(4);
    expect(new Set(steps.map((s) => s.worker))).toEqual(new Set([1, 2]));

    // And either worker answers the introspection of the token.
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await postForm(`${latch.base}/introspect`, { token: tokens.access_token }, apiA, { connection: 'close' }));
    for (const answer of answers) expect(answer.json).toMatchObject({ active: true, sub: 'sub-alice', aud: API_A });
  });

  it('sums /metrics over both workers, whichever one the scrape lands on', async () => {
    const opsPort = await freePort();
    const fresh = await start({ LATCH_OPS_PORT: String(opsPort) });
    for (let i = 0; i < 10; i++) await getOnNewConnection(`${fresh.base}/jwks`);
    // The operations listener is shared by the workers like the public one (node:cluster).
    const ops = `http://127.0.0.1:${opsPort}`;
    const scrapes = [await getOnNewConnection(`${ops}/metrics`), await getOnNewConnection(`${ops}/metrics`)];
    for (const scrape of scrapes) {
      expect(scrape.status).toBe(200);
      expect(scrape.body).toContain('latch_http_requests_total{route="/jwks",method="GET",status="200"} 10\n');
    }
    fresh.proc.child.kill('SIGTERM');
    expect(await fresh.proc.exited).toBe(0);
  }, 60_000);

  it('replaces a worker that dies, under the same worker id', async () => {
    const [victim, survivor] = latch.workerPids as [number, number];
    process.kill(victim, 'SIGKILL');
    const died = await logLine(latch.proc, (l) => l.msg === 'worker died; restarting it' && l.pid === victim);
    expect(died).toMatchObject({ level: 40, worker: 1, signal: 'SIGKILL', restartInMs: 100 });
    const replaced = await logLine(latch.proc, (l) => l.worker === 1 && l.msg === 'latch listening' && l.pid !== victim);
    expect(await gone(victim)).toBe(true);
    expect(alive(survivor)).toBe(true);

    const from = latch.proc.logs().length;
    for (let i = 0; i < 6; i++) expect((await getOnNewConnection(`${latch.base}/healthz`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(new Set(servedSince(latch.proc, from).map((s) => s.pid))).toEqual(new Set([replaced.pid, survivor]));
    latch.workerPids = [replaced.pid as number, survivor];
  });

  it('drains every worker on SIGTERM (requests in flight are answered) and exits 0', async () => {
    const { proc, base, workerPids } = await start({ LOG_LEVEL: 'info' });
    // Redis pauses, so introspections are held in flight inside the workers...
    await redis.client.client('PAUSE', 700, 'ALL');
    const inFlight = Array.from({ length: 10 }, () =>
      postForm(`${base}/introspect`, { token: 'abc' }, apiA, { connection: 'close' }).then(
        (r) => [r.status, r.text] as const,
        (err: Error) => [0, err.message] as const,
      ),
    );
    await new Promise((r) => setTimeout(r, 250));
    // ...when SIGTERM reaches the primary: every one of them is still answered.
    proc.child.kill('SIGTERM');
    expect(await Promise.all(inFlight)).toEqual(Array(10).fill([200, '{"active":false}']));
    expect(await proc.exited).toBe(0);
    for (const pid of workerPids) expect(alive(pid)).toBe(false);
    expect(proc.logs().filter((l) => l.msg === 'shutting down').map((l) => l.worker).sort()).toEqual([1, 2]);
  }, 60_000);

  it('exits 0 on a SIGTERM that arrives while the workers are still starting', async () => {
    const port = await freePort();
    const proc = runLatch({ PORT: String(port), REDIS_URL: redis.url, LATCH_CONFIG: configFile, LATCH_DEV_KEYS_FILE: join(dir, 'keys.json'), LATCH_WORKERS: '2', LOG_LEVEL: 'info' });
    running.push(proc);
    await logLine(proc, (l) => l.msg === 'primary started its workers');
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.logs().filter((l) => l.msg === 'latch listening')).toEqual([]);
  }, 30_000);

  it('stops with the reason, and exit code 1, when the workers cannot serve (the port is taken)', async () => {
    const taken = createServer();
    const port = await new Promise<number>((resolve) => taken.listen(0, () => resolve((taken.address() as { port: number }).port)));
    try {
      const proc = runLatch({ PORT: String(port), REDIS_URL: redis.url, LATCH_CONFIG: configFile, LATCH_DEV_KEYS_FILE: join(dir, 'keys.json'), LATCH_WORKERS: '2', LOG_LEVEL: 'info' });
      running.push(proc);
      expect(await proc.exited).toBe(1);
      expect(proc.err()).toContain(`latch: invalid configuration: PORT: ${port} is already in use (another Latch?); stop it or set PORT\n`);
      expect(proc.err()).toMatch(/latch: worker \d failed before serving \(exit code 1\); stopping every worker\n/);
    } finally {
      taken.close();
    }
  }, 30_000);
});
