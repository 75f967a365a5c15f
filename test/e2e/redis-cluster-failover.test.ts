import { adminCall, adminToken } from '../support/admin.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { postForm } from '../support/oauth.js';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { API_A, SECRETS } from '../support/test-config.js';

/**
 * A Redis Cluster with a replica per primary loses the primary every introspection needs (the one
 * holding the client epochs): the cluster promotes its replica, and Latch keeps serving without a
 * restart — 503 while the cluster decides, never a wrong answer, every token and revocation kept.
 */
let cluster: TestRedisCluster;
let latch: TestLatch;
const apiA: [string, string] = ['api-a', SECRETS.apiA];

const introspect = (token: string) => postForm(`${latch.url}/introspect`, { token }, apiA);
const tokenRequest = () => postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope: 'a:read', resource: API_A }, ['svc', SECRETS.svc]);

beforeAll(async () => {
  cluster = await startRedisCluster(3, 1);
  latch = await startLatch(cluster.target);
});
afterAll(async () => {
  await latch?.close();
  await cluster?.close();
});

describe('Latch on a Redis Cluster with replicas', () => {
  it('keeps serving, with every token and revocation, when a primary fails over to its replica', async () => {
    const admin = await adminToken(latch.url);
    const live = await Promise.all(Array.from({ length: 10 }, async () => (await tokenRequest()).json!.access_token as string));
    const revoked = await Promise.all(Array.from({ length: 10 }, async () => (await tokenRequest()).json!.access_token as string));
    for (const token of revoked) await adminCall(latch.url, 'POST', '/admin/tokens/revoke', admin, { token, reason: 'test' });
    // Replication is asynchronous: every primary's writes must be on its replica before the kill.
    for (const node of cluster.client.nodes('master')) expect(await node.wait(1, 5000)).toBe(1);

    const slot = Number(await cluster.client.cluster('KEYSLOT', latch.store.keys.clientEpochs()));
    const primary = cluster.client.slots[slot]![0]!;
    const victim = cluster.ports.findIndex((port) => primary.endsWith(`:${port}`));
    expect(victim).toBeGreaterThanOrEqual(0);
    await cluster.stopNode(victim);

    // Until the replica is promoted (node timeout 2 s) and Latch has the new slot map: 503 or right.
    let settled = 0;
    for (let i = 0; settled < 5; i++) {
      const answers = await Promise.all([...live, ...revoked].map((token) => introspect(token)));
      for (const [n, answer] of answers.entries()) {
        expect([200, 503]).toContain(answer.status);
        if (n >= live.length) expect(answer.json!.active).not.toBe(true);
      }
      settled = answers.every((a) => a.status === 200) ? settled + 1 : 0;
      if (i > 300) throw new Error('Latch did not recover after the failover');
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = await Promise.all([...live, ...revoked].map((token) => introspect(token)));
    expect(after.map((a) => a.json!.active)).toEqual([...live.map(() => true), ...revoked.map(() => false)]);

    // The promoted replica takes writes: new tokens, a client revocation.
    const fresh = (await tokenRequest()).json!.access_token as string;
    expect((await introspect(fresh)).json).toMatchObject({ active: true });
    expect((await adminCall(latch.url, 'POST', '/admin/clients/svc/revoke', admin, { reason: 'after failover' })).status).toBe(200);
    expect((await introspect(fresh)).json).toEqual({ active: false });
    expect((await introspect(live[0]!)).json).toEqual({ active: false });
  });
});
