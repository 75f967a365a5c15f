import { adminCall, adminToken } from '../support/admin.js';
import { redisNow, startShiftedRedis } from '../support/clock-shift.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

/**
 * Issue 11 §6. On one server (or a Sentinel-managed master) births and epochs are Redis `TIME`.
 * A record written while the clock ran ahead must not look born after a revocation stamped once the
 * clock stepped back (NTP or VM step, or a failover to a replica whose clock is behind).
 */
const active = async (latch: TestLatch, token: string) =>
  (await postForm(`${latch.url}/introspect`, { token }, ['api-a', SECRETS.apiA])).json!.active as boolean;

const refreshes = async (latch: TestLatch, refreshToken: string) =>
  (await postForm(`${latch.url}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, ['web', SECRETS.web])).status === 200;

async function revokeAlice(latch: TestLatch): Promise<void> {
  const { status } = await adminCall(latch.url, 'POST', '/admin/accounts/alice/revoke', await adminToken(latch.url), { reason: 'stolen phone' });
  expect(status).toBe(200);
}

async function linked(replica: TestRedis): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await replica.client.info('replication')).includes('master_link_status:up')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the replica did not sync');
}

describe('a clock step never spares a token', () => {
  it('revoke-all after the server clock stepped back a minute still kills what was issued before; logins after it live', async () => {
    const redis = await startShiftedRedis(60_000);
    const latch = await startLatch(redis.url);
    try {
      const before = (await logIn(latch.url, await webClient(latch.url))).tokens;
      expect(await active(latch, before.access_token)).toBe(true);

      redis.shift(0);
      expect(await redisNow(redis)).toBeLessThan(Date.now() + 5_000);
      await revokeAlice(latch);

      expect(await active(latch, before.access_token)).toBe(false);
      expect(await refreshes(latch, before.refresh_token!)).toBe(false);
      const after = (await logIn(latch.url, await webClient(latch.url))).tokens;
      expect(await active(latch, after.access_token)).toBe(true);
      expect(await refreshes(latch, after.refresh_token!)).toBe(true);
    } finally {
      await latch.close();
      await redis.close();
    }
  });

  it('a revocation on a promoted replica whose clock is behind kills what the old master issued', async () => {
    const master = await startShiftedRedis(60_000);
    const replica = await startRedis();
    const onMaster = await startLatch(master.url);
    let onReplica: TestLatch | undefined;
    try {
      await replica.client.call('REPLICAOF', '127.0.0.1', String(master.port));
      await linked(replica);
      const before = (await logIn(onMaster.url, await webClient(onMaster.url))).tokens;
      // Everything the old master wrote has reached the replica (no asynchronous-replication loss here).
      expect(await master.client.call('WAIT', '1', '10000')).toBe(1);

      await replica.client.call('REPLICAOF', 'NO', 'ONE');
      await onMaster.close();
      await master.close();
      onReplica = await startLatch(replica.url);
      expect(await active(onReplica, before.access_token)).toBe(true);

      await revokeAlice(onReplica);
      expect(await active(onReplica, before.access_token)).toBe(false);
      expect(await refreshes(onReplica, before.refresh_token!)).toBe(false);
      const after = (await logIn(onReplica.url, await webClient(onReplica.url))).tokens;
      expect(await active(onReplica, after.access_token)).toBe(true);
    } finally {
      await onReplica?.close();
      await onMaster.close().catch(() => {});
      await master.close().catch(() => {});
      await replica.close();
    }
  });
});
