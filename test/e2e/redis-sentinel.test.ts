import { adminCall, adminToken } from '../support/admin.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedisSentinel, type TestRedisSentinel } from '../support/redis-sentinel.js';
import { API_A, SECRETS } from '../support/test-config.js';

/** Latch finding its master through Sentinel, and following a failover without a restart. */
let sentinel: TestRedisSentinel;
let latch: TestLatch;
const apiA: [string, string] = ['api-a', SECRETS.apiA];

const introspect = (token: string) => postForm(`${latch.url}/introspect`, { token }, apiA);
const tokenRequest = () => postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope: 'a:read', resource: API_A }, ['svc', SECRETS.svc]);
const serviceToken = async () => (await tokenRequest()).json!.access_token as string;

beforeAll(async () => {
  sentinel = await startRedisSentinel();
  latch = await startLatch(sentinel.target);
});
afterAll(async () => {
  await latch?.close();
  await sentinel?.close();
});

describe('Latch behind Redis Sentinel', () => {
  it('serves from the master Sentinel names, and after a failover keeps every token and revocation', async () => {
    const admin = await adminToken(latch.url);
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    const kept = await serviceToken();
    const revoked = await serviceToken();
    await adminCall(latch.url, 'POST', '/admin/tokens/revoke', admin, { token: revoked, reason: 'test' });
    await adminCall(latch.url, 'POST', '/admin/accounts/alice/revoke', admin, { reason: 'test' });
    expect((await introspect(kept)).json).toMatchObject({ active: true });
    // Replication is asynchronous: make sure the replica has everything before promoting it
    // (docs/operations.md: what a failover can lose, and WAIT / min-replicas-to-write).
    const [master] = sentinel.servers;
    expect(await master!.client.wait(1, 5000)).toBe(1);

    const before = sentinel.masterPort();
    await sentinel.failover();
    expect(sentinel.masterPort()).not.toBe(before);

    // Latch follows the new master by itself. Until it has settled (10 writes in a row succeed),
    // answers may be 503, never a wrong 200.
    let fresh = '';
    for (let i = 0, streak = 0; streak < 10; i++) {
      const answer = await tokenRequest();
      if (answer.status === 200) {
        fresh = answer.json!.access_token as string;
        streak++;
      } else {
        expect(answer.json).toMatchObject({ error: 'temporarily_unavailable' });
        streak = 0;
      }
      expect((await introspect(revoked)).json!.active).not.toBe(true);
      if (i > 300) throw new Error('Latch did not follow the failover');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await introspect(kept)).json).toMatchObject({ active: true });
    expect((await introspect(revoked)).json).toEqual({ active: false });
    expect((await introspect(tokens.access_token)).json).toEqual({ active: false });

    // Writes land on the new master: new tokens, new revocations, new logins.
    expect((await introspect(fresh)).json).toMatchObject({ active: true });
    await adminCall(latch.url, 'POST', '/admin/clients/svc/revoke', admin, { reason: 'after failover' });
    expect((await introspect(fresh)).json).toEqual({ active: false });
    const login = await logIn(latch.url, await webClient(latch.url));
    expect((await introspect(login.tokens.access_token)).json).toMatchObject({ active: true, sub: 'sub-alice' });
  });
});
