import { adminCall, adminToken, jobDone } from '../support/admin.js';
import { backchannelConfig, decoded, eventually, FLEET_SECRET, passwordOf, summary } from '../support/backchannel.js';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { startLogoutReceiver, type LogoutReceiver } from '../support/logout-receiver.js';
import { clientFor, logIn } from '../support/oauth.js';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { SECRETS } from '../support/test-config.js';

/**
 * Back-channel logout on a 3-primary Redis Cluster with two Latch instances: the queue's scripts
 * (one hash tag, one slot), the retries, and a whole client's fan-out, whatever slots the
 * sessions, grants and remembered sids live in.
 */
let cluster: TestRedisCluster;
let receiver: LogoutReceiver;
let a: TestLatch;
let b: TestLatch;
let admin: string;

async function signIn(client: 'web' | 'fleet-web', user: 'alice' | 'carol' | 'dave') {
  const config = await clientFor(a.url, client, client === 'web' ? SECRETS.web : FLEET_SECRET);
  const { tokens } = await logIn(a.url, config, { username: user, password: passwordOf(user), browser: new BrowserSession(), scope: 'openid offline_access a:read' });
  return tokens.claims()!.sid as string;
}

const write = async (path: string) => expect((await adminCall(b.url, 'POST', path, admin, { reason: 'test: cluster' })).status).toBe(200);

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  receiver = await startLogoutReceiver();
  a = await startLatch(cluster.target, { file: backchannelConfig(receiver.url) });
  b = await startLatch(cluster.target, { config: a.config });
  admin = await adminToken(a.url);
}, 60_000);
afterAll(async () => {
  await a?.close();
  await b?.close();
  await receiver?.close();
  await cluster?.close();
});

describe('back-channel logout on a Redis Cluster', () => {
  it('signed in at A, revoked at B: the logout is delivered, after retries when the receiver was down', async () => {
    const sid = await signIn('web', 'alice');
    await receiver.down();
    await write('/admin/accounts/alice/revoke');
    await eventually(async () => (await cluster.client.zcard('latch:{bcl}:retry')) === 1);
    await receiver.up();
    await receiver.waitFor(1);
    expect(summary(await decoded(a, receiver.received))).toEqual([{ client: 'web', sub: 'sub-alice', sid }]);
    // One MULTI (one slot: {bcl}): two separate reads can miss a delivery moving between them.
    await eventually(async () => {
      const replies = (await cluster.client.multi().xlen('latch:{bcl}:queue').zcard('latch:{bcl}:retry').exec()) ?? [];
      return replies.every(([err, n]) => !err && Number(n) === 0);
    });
  });

  it("a whole client's fan-out reaches every user's session of it", async () => {
    const before = receiver.received.length;
    const carol = await signIn('fleet-web', 'carol');
    const dave = await signIn('fleet-web', 'dave');
    const { json } = await adminCall(b.url, 'POST', '/admin/clients/fleet-web/revoke', admin, { reason: 'test: cluster' });
    await receiver.waitFor(before + 2);
    expect(summary(await decoded(a, receiver.received.slice(before)))).toEqual(
      summary([
        { client: 'fleet-web', sub: 'sub-carol', sid: carol, jti: '' },
        { client: 'fleet-web', sub: 'sub-dave', sid: dave, jti: '' },
      ]),
    );
    expect(await jobDone(a.url, admin, json!.job as string)).toMatchObject({ state: 'done' });
  });
});
