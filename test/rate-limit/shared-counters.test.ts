import type { TestLatch } from '../support/latch-server.js';
import { postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';
import { awayFromWindowEnd, call, eventually, freshIp, startLimited, type Credentials } from './support.js';

/** Two Latch instances on one Redis, sharing rate-limit counts every 50 ms. */
let redis: TestRedis;
let a: TestLatch;
let b: TestLatch;
const apiA: Credentials = ['api-a', SECRETS.apiA];
const apiB: Credentials = ['api-b', SECRETS.apiB];
const LIMITS = { syncIntervalMs: 50, introspection: { perClient: 100, perAddress: 5 } };
const window = () => Math.floor(Date.now() / 3_600_000);

beforeAll(async () => {
  redis = await startRedis();
  a = await startLimited(redis.url, LIMITS, { trustedProxies: 1 });
  b = await startLimited(redis.url, LIMITS, { trustedProxies: 1, config: a.config });
});
afterAll(async () => {
  await a.close();
  await b.close();
  await redis.close();
});
beforeEach(() => awayFromWindowEnd(3600));

describe('rate limits shared by several instances', () => {
  it('spends one budget across instances: once A’s counts are in Redis, B refuses the same address', async () => {
    const ip = freshIp();
    for (let i = 0; i < 5; i++) expect((await call.introspection(a.url, ip, apiA)).status).toBe(200);
    expect((await call.introspection(a.url, ip, apiA)).status).toBe(429);
    const counter = a.store.keys.rateLimit('introspection:address', ip, window());
    await eventually(async () => Number(await redis.client.get(counter)) === 5);
    // Expires by itself (within two windows), the window number is in its name.
    expect(await redis.client.pttl(counter)).toBeGreaterThan(3_600_000);
    expect(await redis.client.pttl(counter)).toBeLessThanOrEqual(7_200_000);

    // B learns the total at its first sync; until then it may admit what A did since its last sync.
    let admittedAtB = 0;
    await eventually(async () => {
      const { status } = await call.introspection(b.url, ip, apiA);
      if (status === 200) admittedAtB++;
      return status === 429;
    });
    expect(admittedAtB).toBeLessThan(5);
    // Other addresses keep their own budgets at both.
    expect((await call.introspection(b.url, freshIp(), apiA)).status).toBe(200);
    expect((await call.introspection(a.url, freshIp(), apiA)).status).toBe(200);
  });

  it('keeps introspection at one Redis command per call: the counts travel in a background sync', async () => {
    const { json } = await postForm(`${a.url}/token`, { grant_type: 'client_credentials', scope: 'b:read' }, ['svc', SECRETS.svc]);
    const token = json!.access_token as string;
    const introspect = () => postForm(`${a.url}/introspect`, { token }, apiB, { 'x-forwarded-for': freshIp() });
    expect((await introspect()).json).toMatchObject({ active: true });
    await new Promise((r) => setTimeout(r, 200)); // let the token's writes and the first sync settle

    const monitor = await redis.client.monitor();
    const requestPath: string[] = [];
    const sync: string[][] = [];
    monitor.on('monitor', (_time, args: string[], source) => {
      // Commands run inside a Lua script come from "lua": they are not round trips.
      if (source === 'lua') return;
      // The back-channel logout delivery loop polls its queue (keys tagged {bcl}) on its own schedule.
      if (args.some((arg) => String(arg).includes('{bcl}'))) return;
      // Live updates read their version counter every 500 ms (src/live/).
      if (args.some((arg) => String(arg).endsWith('live:version'))) return;
      // The sync's script names one rate-limit counter (keys.ts: `latch:rl:…`) and nothing else.
      if (args.some((arg) => String(arg).startsWith('latch:rl:'))) sync.push(args.map(String));
      else requestPath.push(String(args[0]).toLowerCase());
    });
    try {
      for (let i = 0; i < 3; i++) expect((await introspect()).json).toMatchObject({ active: true });
      await eventually(async () => sync.length > 0);
      for (let i = 0; i < 17; i++) expect((await introspect()).json).toMatchObject({ active: true });
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      monitor.disconnect();
    }

    expect(requestPath).toEqual(Array(20).fill('evalsha'));
    for (const command of sync) {
      expect(['evalsha', 'eval']).toContain(command[0]!.toLowerCase());
      expect(command[2]).toBe('1'); // one key per script call: fine on Redis Cluster
      expect(command[3]).toMatch(/^latch:rl:introspection:(client|address):\{[A-Za-z0-9_-]{22}\}:\d+$/);
    }
  });

  it('keeps limiting while Redis is down (each instance alone), answers 503 and never active:true, and shares again once it is back', async () => {
    const { json } = await postForm(`${a.url}/token`, { grant_type: 'client_credentials', scope: 'a:read' }, ['svc', SECRETS.svc]);
    const token = json!.access_token as string;
    const ip = freshIp();
    await redis.stop();
    try {
      for (let i = 0; i < 5; i++) {
        const down = await postForm(`${a.url}/introspect`, { token }, apiB, { 'x-forwarded-for': ip });
        expect(down.status).toBe(503);
        expect(down.json).toEqual({ error: 'temporarily_unavailable', error_description: 'the authorization server is temporarily unavailable, retry later' });
      }
      expect((await postForm(`${a.url}/introspect`, { token }, apiB, { 'x-forwarded-for': ip })).status).toBe(429);
      await eventually(async () => a.logs.some((line) => line.includes('rate-limit counters could not be shared')));
    } finally {
      await redis.start();
    }
    await eventually(async () => (await fetch(`${a.opsUrl}/readyz`)).status === 200);
    // The counts made while Redis was down reach it, and B refuses that address too.
    const counter = a.store.keys.rateLimit('introspection:address', ip, window());
    await eventually(async () => Number(await redis.client.get(counter)) === 5);
    await eventually(async () => (await call.introspection(b.url, ip)).status === 429);
    // Nothing secret in what the limiter logged.
    const logged = a.logs.filter((line) => line.includes('rate-limit')).join('\n');
    expect(logged).not.toContain(ip);
    expect(logged).not.toContain(token);
    expect(logged).not.toContain(SECRETS.apiB);
  });
});
