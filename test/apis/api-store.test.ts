import { ApiStore } from '../../adapters/redis/api-store.js';
import { adminCall, adminToken } from '../support/admin.js';
import { API_SECRETS, apiFileConfig, NEW_API } from '../support/api-config.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { postForm } from '../support/oauth.js';
import { backends, type TestBackend } from '../support/redis-backends.js';
import { SECRETS } from '../support/test-config.js';

/** The API store, and an API's life through Latch, on one Redis server and on a Redis Cluster. */
describe.each(backends)('the API store on %s', (_name, start) => {
  let backend: TestBackend;
  let latch: TestLatch;
  let store: ApiStore;

  beforeAll(async () => {
    backend = await start();
    latch = await startLatch(backend.target, { file: apiFileConfig() });
    store = new ApiStore(latch.store);
  }, 60_000);
  afterAll(async () => {
    await latch?.close();
    await backend?.close();
  });

  const fields = { audience: 'https://store.api.test', name: 'Store', scopes: ['s:read'], claims: ['email'], introspectors: ['api-a'], accessTokenTTL: 90 };

  it('creates once, lists, updates only the revision it read, deletes', async () => {
    const created = await store.create(fields);
    expect(created).toEqual({ ...fields, createdAt: expect.any(Number), updatedAt: created!.createdAt, rev: 1 });
    expect(await store.create(fields)).toBeUndefined();
    expect(await store.get(fields.audience)).toEqual(created);
    expect((await store.list()).map((api) => api.audience)).toContain(fields.audience);

    const updated = await store.update(1, { ...fields, name: 'Store 2', createdAt: created!.createdAt });
    expect(updated).toEqual({ status: 'updated', api: { ...fields, name: 'Store 2', createdAt: created!.createdAt, updatedAt: expect.any(Number), rev: 2 } });
    // A writer that read revision 1 is told someone wrote meanwhile.
    expect(await store.update(1, { ...fields, name: 'stale', createdAt: created!.createdAt })).toEqual({ status: 'changed' });
    expect(await store.update(1, { ...fields, audience: 'https://nobody.test', createdAt: 0 })).toEqual({ status: 'missing' });

    expect(await store.delete(fields.audience)).toBe(true);
    expect(await store.delete(fields.audience)).toBe(false);
    expect(await store.get(fields.audience)).toBeUndefined();
    expect((await store.list()).map((api) => api.audience)).not.toContain(fields.audience);
  });

  it('serves an API registered through the admin API: token, introspection, change, removal', async () => {
    const admin = await adminToken(latch.url);
    const path = `/admin/apis/${encodeURIComponent(NEW_API)}`;
    const body = { audience: NEW_API, name: 'New', scopes: ['n:read'], claims: [], introspectors: ['api-b'], accessTokenTTL: 60, reason: 'cluster' };
    expect((await adminCall(latch.url, 'POST', '/admin/apis', admin, body)).status).toBe(201);
    const issued = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', resource: NEW_API, scope: 'n:read' }, ['tools', API_SECRETS.tools]);
    expect(issued.json).toMatchObject({ expires_in: 60, scope: 'n:read' });
    const token = issued.json!.access_token as string;
    const introspect = async () => (await postForm(`${latch.url}/introspect`, { token }, ['api-b', SECRETS.apiB])).json;
    expect(await introspect()).toMatchObject({ active: true, aud: NEW_API, scope: 'n:read' });
    expect((await adminCall(latch.url, 'PATCH', path, admin, { name: 'Renamed', reason: 'r' })).json).toMatchObject({ api: { name: 'Renamed', revision: 2 } });
    expect((await adminCall(latch.url, 'DELETE', path, admin, { reason: 'r' })).status).toBe(200);
    expect(await introspect()).toEqual({ active: false });
  });
});
