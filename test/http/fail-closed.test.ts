import { startLatch, type TestLatch } from '../support/latch-server.js';
import { adminCall, adminToken } from '../support/admin.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;
let accessToken: string;
let refreshToken: string;
const apiA: [string, string] = ['api-a', SECRETS.apiA];

async function waitReady(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const response = await fetch(`${latch.opsUrl}/readyz`);
    if (response.status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('Latch did not become ready again');
}

/** The bound a failing request must answer within: the Redis command timeout plus slack. */
const BOUND_MS = 5000;

async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = Date.now();
  const result = await fn();
  return { result, ms: Date.now() - started };
}

beforeAll(async () => {
  // AOF with fsync on every write, so tokens survive the restart below.
  redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  latch = await startLatch(redis.url);
  const { tokens } = await logIn(latch.url, await webClient(latch.url));
  accessToken = tokens.access_token;
  refreshToken = tokens.refresh_token!;
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('fail closed when Redis is unreachable', () => {
  it('answers 503 temporarily_unavailable on introspection, token and revocation, quickly, then recovers', async () => {
    expect((await postForm(`${latch.url}/introspect`, { token: accessToken }, apiA)).json).toMatchObject({ active: true });
    await redis.stop();

    const introspection = await timed(() => postForm(`${latch.url}/introspect`, { token: accessToken }, apiA));
    expect(introspection.result.status).toBe(503);
    expect(introspection.result.json).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
    expect(introspection.ms).toBeLessThan(BOUND_MS);

    const token = await timed(() =>
      postForm(`${latch.url}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, ['web', SECRETS.web]),
    );
    expect(token.result.status).toBe(503);
    expect(token.result.json).toMatchObject({ error: 'temporarily_unavailable' });
    expect(token.ms).toBeLessThan(BOUND_MS);

    const revocation = await postForm(`${latch.url}/revoke`, { token: accessToken }, ['web', SECRETS.web]);
    expect(revocation.status).toBe(503);
    expect(revocation.json).toMatchObject({ error: 'temporarily_unavailable' });

    const service = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope: 'a:read' }, ['svc', SECRETS.svc]);
    expect(service.status).toBe(503);

    expect((await fetch(`${latch.opsUrl}/readyz`)).status).toBe(503);
    expect((await fetch(`${latch.url}/healthz`)).status).toBe(200);

    await redis.start();
    await waitReady();
    const after = await postForm(`${latch.url}/introspect`, { token: accessToken }, apiA);
    expect(after.status).toBe(200);
    expect(after.json).toMatchObject({ active: true, sub: 'sub-alice' });
  });

  it('keeps issued tokens active and revoked tokens revoked across a Redis restart (AOF, fsync always)', async () => {
    await waitReady();
    const revoked = (await logIn(latch.url, await webClient(latch.url))).tokens;
    await postForm(`${latch.url}/revoke`, { token: revoked.refresh_token! }, ['web', SECRETS.web]);
    const admin = await adminToken(latch.url);
    await adminCall(latch.url, 'POST', '/admin/accounts/bob/revoke', admin, { reason: 'before the restart' });
    const bobBefore = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope: 'a:read' }, ['svc', SECRETS.svc]);
    await new Promise((r) => setTimeout(r, 5));
    const live = (await logIn(latch.url, await webClient(latch.url))).tokens;

    await redis.stop();
    await redis.start();
    await waitReady();

    const introspect = async (token: string) => (await postForm(`${latch.url}/introspect`, { token }, apiA)).json;
    expect(await introspect(live.access_token)).toMatchObject({ active: true });
    expect(await introspect(bobBefore.json!.access_token as string)).toMatchObject({ active: true });
    expect(await introspect(revoked.access_token)).toEqual({ active: false });
    const epoch = await redis.client.hget(latch.store.keys.account('sub-bob'), 'epoch');
    expect(Number(epoch)).toBeGreaterThan(0);
  });

  it('answers 503 within the command timeout when Redis hangs instead of failing', async () => {
    await waitReady();
    await redis.client.client('PAUSE', 3000, 'ALL');
    const { result, ms } = await timed(() => postForm(`${latch.url}/introspect`, { token: accessToken }, apiA));
    expect(result.status).toBe(503);
    expect(result.json).toMatchObject({ error: 'temporarily_unavailable' });
    expect(ms).toBeLessThan(BOUND_MS);
    await redis.client.client('UNPAUSE');
    await waitReady();
    expect((await postForm(`${latch.url}/introspect`, { token: accessToken }, apiA)).json).toMatchObject({ active: true });
  });

  it('under load, with Redis killed and restarted: every request answered 200 or 503, never active:true for a revoked token', async () => {
    await waitReady();
    const live = (await logIn(latch.url, await webClient(latch.url))).tokens.access_token;
    const revoked = (await logIn(latch.url, await webClient(latch.url))).tokens;
    await postForm(`${latch.url}/revoke`, { token: revoked.refresh_token! }, ['web', SECRETS.web]);

    type Answer = { kind: 'live' | 'revoked' | 'token'; status: number; active?: unknown; error?: unknown; at: number };
    const answers: Answer[] = [];
    const failures: string[] = [];
    let running = true;
    async function worker(n: number) {
      for (let i = n; running; i++) {
        const kind = i % 10 === 0 ? 'token' : i % 2 ? 'live' : 'revoked';
        try {
          const response = kind === 'token'
            ? await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope: 'a:read' }, ['svc', SECRETS.svc])
            : await postForm(`${latch.url}/introspect`, { token: kind === 'live' ? live : revoked.access_token }, apiA);
          answers.push({ kind, status: response.status, active: response.json?.active, error: response.json?.error, at: Date.now() });
        } catch (err) {
          failures.push(String(err));
        }
      }
    }
    const workers = Array.from({ length: 8 }, (_, n) => worker(n));
    await new Promise((r) => setTimeout(r, 300));
    await redis.stop();
    const killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 700));
    await redis.start();
    await waitReady();
    const backAt = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await Promise.all(workers);

    expect(failures).toEqual([]);
    expect(answers.every((a) => a.status === 200 || (a.status === 503 && a.error === 'temporarily_unavailable'))).toBe(true);
    expect(answers.filter((a) => a.kind === 'revoked' && a.active !== false)).toEqual(answers.filter((a) => a.kind === 'revoked' && a.status === 503));
    expect(answers.filter((a) => a.kind === 'revoked').every((a) => a.active !== true)).toBe(true);
    expect(answers.some((a) => a.at > killedAt && a.at < backAt && a.status === 503)).toBe(true);
    // Once Latch reports ready again, it serves again: no restart.
    const after = answers.filter((a) => a.at > backAt + 50);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((a) => a.status === 200)).toBe(true);
    expect(after.filter((a) => a.kind === 'live').every((a) => a.active === true)).toBe(true);
  });

  it('does not let requests pile up while Redis hangs: 100 concurrent calls all answer 503 within the bound', async () => {
    await waitReady();
    await redis.client.client('PAUSE', 4000, 'ALL');
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        timed(() => (i % 4 === 0
          ? postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope: 'a:read' }, ['svc', SECRETS.svc])
          : postForm(`${latch.url}/introspect`, { token: accessToken }, apiA))),
      ),
    );
    const elapsed = Date.now() - started;
    await redis.client.client('UNPAUSE');
    expect(answers.map((a) => a.result.status)).toEqual(answers.map(() => 503));
    expect(answers.every((a) => a.result.json!.error === 'temporarily_unavailable')).toBe(true);
    // All answered at the command timeout (1 s here), long before Redis came back (4 s).
    expect(elapsed).toBeLessThan(BOUND_MS - 1000);
    await waitReady();
    expect((await postForm(`${latch.url}/introspect`, { token: accessToken }, apiA)).json).toMatchObject({ active: true });
  });

  it('answers each of 50 concurrent introspection, token and revocation calls within the command timeout while Redis hangs, queueing included', async () => {
    await waitReady();
    const timeoutMs = latch.config.redisCommandTimeoutMs;
    await redis.client.client('PAUSE', 4000, 'ALL');
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        timed(() => {
          if (i % 5 === 0) return postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope: 'a:read' }, ['svc', SECRETS.svc]);
          if (i % 5 === 1) return postForm(`${latch.url}/revoke`, { token: accessToken }, ['web', SECRETS.web]);
          return postForm(`${latch.url}/introspect`, { token: accessToken }, apiA);
        }),
      ),
    );
    await redis.client.client('UNPAUSE');
    expect(answers.map((a) => [a.result.status, a.result.json?.error])).toEqual(answers.map(() => [503, 'temporarily_unavailable']));
    // One deadline per request, from the moment it asks Redis: queueing behind commands already
    // sent counts (with auto-pipelining a command's own timeout starts only once it is written).
    const slowest = Math.max(...answers.map((a) => a.ms));
    expect({ slowest, withinBound: slowest < timeoutMs + 500 }).toEqual({ slowest, withinBound: true });
    await waitReady();
  });

  it('logs "introspection failed" at most once per interval during an outage and counts every failure in a metric', async () => {
    await waitReady();
    const fresh = await startLatch(redis.url);
    try {
      const logged = () => fresh.logs.filter((line) => line.includes('"introspection failed"'));
      const metric = async () => {
        const text = await (await fetch(`${fresh.opsUrl}/metrics`)).text();
        return Number(/^latch_introspection_failures_total\{error="temporarily_unavailable"\} (\d+)/m.exec(text)?.[1] ?? 0);
      };
      await redis.stop();
      for (let burst = 0; burst < 2; burst++) {
        const answers = await Promise.all(Array.from({ length: 30 }, () => postForm(`${fresh.url}/introspect`, { token: accessToken }, apiA)));
        expect(answers.map((a) => a.status)).toEqual(answers.map(() => 503));
      }
      expect(logged()).toHaveLength(1);
      expect(JSON.parse(logged()[0]!)).toMatchObject({ level: 40, path: '/introspect', error: 'temporarily_unavailable' });
      expect(await metric()).toBe(60);
    } finally {
      await fresh.close();
      await redis.start();
      await waitReady();
    }
  });

  it('never shows a stack trace on the login page when Redis is down', async () => {
    await redis.stop();
    const url = new URL(`${latch.url}/auth`);
    url.search = new URLSearchParams({
      client_id: 'web', response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:9/callback',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
    }).toString();
    const response = await fetch(url, { headers: { accept: 'text/html' }, redirect: 'manual' });
    const html = await response.text();
    expect(response.status).toBe(503);
    expect(html).toContain('temporarily_unavailable');
    expect(html).not.toMatch(/at .*\.(js|ts):\d+/);
    await redis.start();
    await waitReady();
  });

  it('answers the password pages and the account admin API with 503 when Redis is down, and changes nothing', async () => {
    const admin = await adminToken(latch.url);
    const { json } = await adminCall(latch.url, 'POST', '/admin/accounts/bob/reset-link', admin, { reason: 'before the outage' });
    const link = json!.link as string;
    await redis.stop();
    const page = await fetch(link, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(503);
    const html = await page.text();
    expect(html).toContain('temporarily_unavailable');
    expect(html).not.toMatch(/at .*\.(js|ts):\d+/);
    const list = await adminCall(latch.url, 'GET', '/admin/accounts', admin);
    expect(list.status).toBe(503);
    expect(list.json).toMatchObject({ error: 'temporarily_unavailable' });
    await redis.start();
    await waitReady();
    // The link survived the outage: nothing was consumed.
    expect((await fetch(link)).status).toBe(200);
  });
});
