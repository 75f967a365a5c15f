import { adminCall, adminToken } from '../support/admin.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A, SECRETS } from '../support/test-config.js';

/**
 * Issue 15, "every instance, at once": two Latch instances on one Redis. A client change made at
 * one applies at the other within a second, without a restart: its in-memory copies (the client
 * registry, the introspection endpoint's verified-credentials cache) are dropped by the live event.
 */
let redis: TestRedis;
let a: TestLatch;
let b: TestLatch;
let admin: string;

beforeAll(async () => {
  redis = await startRedis();
  a = await startLatch(redis.url);
  b = await startLatch(redis.url, { config: a.config });
  admin = await adminToken(a.url);
});
afterAll(async () => {
  await b.close();
  await a.close();
  await redis.close();
});

const token = (at: TestLatch, secret: string) => postForm(`${at.url}/token`, { grant_type: 'client_credentials', scope: 'a:read' }, ['batch', secret]);
const introspectAt = (at: TestLatch, value: string, as: [string, string]) => postForm(`${at.url}/introspect`, { token: value }, as);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long (ms) until `check` holds, polling every 20 ms, at most `limit` ms. */
async function within(limit: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limit) {
    if (await check()) return Date.now() - started;
    await sleep(20);
  }
  throw new Error(`not within ${limit} ms`);
}

describe('managed clients on two instances', () => {
  let secret: string;

  it('a client created at A can authenticate at B within 1 s (B had just refused the unknown id)', async () => {
    expect((await token(b, 'x'.repeat(43))).status).toBe(401);
    const { status, json } = await adminCall(a.url, 'POST', '/admin/clients', admin, {
      client_id: 'batch', grant_types: ['client_credentials'], scope: 'a:read', resources: [API_A], reason: 'two instances',
    });
    expect({ status, json }).toMatchObject({ status: 201, json: { client: { client_id: 'batch' } } });
    secret = json!.client_secret as string;
    const took = await within(1000, async () => (await token(b, secret)).status === 200);
    expect(took).toBeLessThan(1000);
  });

  it('rotate at A: the old secret keeps working at B through the grace period, then fails at B', async () => {
    // B has verified the old secret already (its verified-credentials cache holds it).
    const issued = (await token(b, secret)).json!.access_token as string;
    expect((await introspectAt(b, issued, ['batch', secret])).json).toMatchObject({ active: true });
    const rotated = await adminCall(a.url, 'POST', '/admin/clients/batch/rotate-secret', admin, { grace_seconds: 1, reason: 'rotation' });
    const fresh = rotated.json!.client_secret as string;
    expect((await introspectAt(b, issued, ['batch', secret])).json).toMatchObject({ active: true });
    expect((await token(b, secret)).status).toBe(200);
    await sleep(1100);
    expect(await introspectAt(b, issued, ['batch', secret])).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    expect(await token(b, secret)).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    await within(1000, async () => (await token(b, fresh)).status === 200);
    secret = fresh;
  });

  it('rotate at A without grace: the old secret, verified at B a moment before, fails at B within 1 s', async () => {
    expect((await introspectAt(b, 'unknown', ['batch', secret])).status).toBe(200);
    const rotated = await adminCall(a.url, 'POST', '/admin/clients/batch/rotate-secret', admin, { reason: 'leaked' });
    const old = secret;
    await within(1000, async () => (await introspectAt(b, 'unknown', ['batch', old])).status === 401);
    secret = rotated.json!.client_secret as string;
  });

  it('delete at B: the token it issued is dead at A on the next call', async () => {
    const issued = (await token(a, secret)).json!.access_token as string;
    expect((await introspectAt(a, issued, ['api-a', SECRETS.apiA])).json).toMatchObject({ active: true, client_id: 'batch' });
    const adminAtB = await adminToken(b.url);
    const deleted = await adminCall(b.url, 'POST', '/admin/clients/batch/delete', adminAtB, { reason: 'retired' });
    expect(deleted.status).toBe(200);
    expect((await introspectAt(a, issued, ['api-a', SECRETS.apiA])).json).toEqual({ active: false });
    await within(1000, async () => (await token(a, secret)).status === 401);
  });
});
