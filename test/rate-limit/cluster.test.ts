import type { TestLatch } from '../support/latch-server.js';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { SECRETS } from '../support/test-config.js';
import { awayFromWindowEnd, call, eventually, freshIp, startLimited, type Credentials } from './support.js';

/** The shared counters on a 3-primary Redis Cluster: single-key scripts, counters on every node. */
let cluster: TestRedisCluster;
let a: TestLatch;
let b: TestLatch;
const apiA: Credentials = ['api-a', SECRETS.apiA];
const LIMITS = { syncIntervalMs: 50, introspection: { perClient: 1000, perAddress: 3 } };

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  a = await startLimited(cluster.target, LIMITS, { trustedProxies: 1 });
  b = await startLimited(cluster.target, LIMITS, { trustedProxies: 1, config: a.config });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await cluster?.close();
});

describe('rate limits on a Redis Cluster', () => {
  it('shares the budgets of many addresses between instances, their counters spread over the primaries', async () => {
    await awayFromWindowEnd(3600);
    expect(a.store.clustered).toBe(true);
    const ips = Array.from({ length: 24 }, () => freshIp());
    for (const ip of ips) {
      for (let i = 0; i < 3; i++) expect((await call.introspection(a.url, ip, apiA)).status).toBe(200);
    }
    const window = Math.floor(Date.now() / 3_600_000);
    const counters = ips.map((ip) => a.store.keys.rateLimit('introspection:address', ip, window));
    await eventually(async () => (await Promise.all(counters.map((key) => cluster.client.get(key)))).every((n) => n === '3'));
    const sizes = await Promise.all(cluster.client.nodes('master').map((node) => node.keys('latch:rl:*').then((keys) => keys.length)));
    expect(sizes.every((n) => n > 0)).toBe(true);
    for (const ip of ips) {
      await eventually(async () => (await call.introspection(b.url, ip, apiA)).status === 429);
    }
  });
});
