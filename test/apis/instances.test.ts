import { adminCall, adminToken } from '../support/admin.js';
import { API_SECRETS, apiFileConfig, NEW_API } from '../support/api-config.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

/**
 * Two Latch instances on one Redis (as behind a load balancer): an API registered, changed or
 * removed through either applies on the other within a second, without a restart (live updates
 * invalidate the table, which is read again).
 */
let redis: TestRedis;
let a: TestLatch;
let b: TestLatch;

beforeAll(async () => {
  redis = await startRedis();
  a = await startLatch(redis.url, { file: apiFileConfig() });
  b = await startLatch(redis.url, { config: a.config });
});
afterAll(async () => {
  await a.close();
  await b.close();
  await redis.close();
});

const PATH = `/admin/apis/${encodeURIComponent(NEW_API)}`;
const tools: [string, string] = ['tools', API_SECRETS.tools];
const machineToken = (at: TestLatch) => postForm(`${at.url}/token`, { grant_type: 'client_credentials', resource: NEW_API, scope: 'n:read' }, tools);
const introspect = async (at: TestLatch, token: string) => (await postForm(`${at.url}/introspect`, { token }, ['api-b', SECRETS.apiB])).json;

/** Polls `check` every 10 ms; returns how long it took to hold (ms). */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

describe('APIs managed at run time, on every instance', () => {
  it('registered at A: within 1 s a token for it is issued and introspected at B; changed at B: visible at A within 1 s; removed at A: dead at B within 1 s', async () => {
    const adminA = await adminToken(a.url);
    const adminB = await adminToken(b.url);
    expect((await machineToken(b)).json).toMatchObject({ error: 'invalid_target' });

    const created = await adminCall(a.url, 'POST', '/admin/apis', adminA, {
      audience: NEW_API, name: 'New API', scopes: ['n:read'], claims: [], introspectors: ['api-b'], accessTokenTTL: 300, reason: 'launch',
    });
    expect(created.status).toBe(201);
    let token = '';
    await within(1000, async () => {
      const { status, json } = await machineToken(b);
      token = status === 200 ? (json!.access_token as string) : '';
      return status === 200;
    });
    expect(await introspect(b, token)).toMatchObject({ active: true, client_id: 'tools', aud: NEW_API, scope: 'n:read' });
    expect(await introspect(a, token)).toMatchObject({ active: true, aud: NEW_API });

    const updated = await adminCall(b.url, 'PATCH', PATH, adminB, { introspectors: ['api-a'], reason: 'A takes over' });
    expect(updated.status).toBe(200);
    await within(1000, async () => (await postForm(`${a.url}/introspect`, { token }, ['api-a', SECRETS.apiA])).json!.active === true);
    expect(await introspect(a, token)).toEqual({ active: false });

    expect((await adminCall(a.url, 'DELETE', PATH, adminA, { reason: 'gone' })).status).toBe(200);
    await within(1000, async () => (await postForm(`${b.url}/introspect`, { token }, ['api-a', SECRETS.apiA])).json!.active === false);
    expect((await machineToken(b)).json).toMatchObject({ error: 'invalid_target' });
  });

  it('reaches an instance that missed the announcement (its table is read again within the recheck interval)', async () => {
    const adminA = await adminToken(a.url);
    // Stored, and the version counter bumped, without any announcement on the channel.
    const store = a.store;
    await store.redis.hset(store.keys.api('https://quiet.api.test'), {
      audience: 'https://quiet.api.test', name: 'Quiet', scopes: '["q:read"]', claims: '[]', introspectors: '["api-b"]', ttl: '60', created: String(Date.now()), updated: String(Date.now()), rev: '1',
    });
    await store.redis.sadd(store.keys.apiIndex(), 'https://quiet.api.test');
    await store.redis.incr(store.keys.liveVersion());
    await within(1000, async () => b.resourceServers.get('https://quiet.api.test') !== undefined);
    expect((await adminCall(a.url, 'GET', `/admin/apis/${encodeURIComponent('https://quiet.api.test')}`, adminA)).json).toMatchObject({ audience: 'https://quiet.api.test', managed_by: 'admin' });
  });
});
