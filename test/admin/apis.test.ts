import { adminCall, adminToken } from '../support/admin.js';
import { API_SECRETS, apiFileConfig, NEW_API } from '../support/api-config.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { clientFor, logIn, postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { ADMIN_API, API_A, API_B, SECRETS } from '../support/test-config.js';

/**
 * Resource servers managed at run time through the admin API (`/admin/apis`): the config's APIs
 * listed read-only, register / change / remove, what each write audits, and what every reader of
 * the table (token issuance, introspection, discovery) makes of it at the next request. Real
 * Redis, real Latch over HTTP, a real login through its pages.
 */
let redis: TestRedis;
let latch: TestLatch;
let admin: string;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url, { file: apiFileConfig() });
  admin = await adminToken(latch.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

const PATH = `/admin/apis/${encodeURIComponent(NEW_API)}`;
const call = (method: string, path: string, body?: unknown) => adminCall(latch.url, method, path, admin, body);
const apiB: [string, string] = ['api-b', SECRETS.apiB];
const introspect = async (token: string, caller: [string, string] = apiB) => (await postForm(`${latch.url}/introspect`, { token }, caller)).json;
const machineToken = (scope: string, client: [string, string] = ['tools', API_SECRETS.tools]) =>
  postForm(`${latch.url}/token`, { grant_type: 'client_credentials', resource: NEW_API, scope }, client);
const audit = async (id: unknown) => ((await call('GET', '/admin/audit?limit=1000')).json!.entries as Array<Record<string, unknown>>).find((e) => e.id === id);
const scopesSupported = async () => ((await (await fetch(`${latch.url}/.well-known/openid-configuration`)).json()) as { scopes_supported: string[] }).scopes_supported;

const CONFIG_APIS = [
  { audience: API_A, name: 'API A', scopes: ['a:read', 'a:write'], claims: ['email', 'username'], introspectors: ['api-a'], accessTokenTTL: 600, managed_by: 'config' },
  { audience: API_B, name: 'API B', scopes: ['b:read'], claims: [], introspectors: ['api-b'], accessTokenTTL: 600, managed_by: 'config' },
  { audience: ADMIN_API, name: 'Latch admin API', scopes: ['admin:read', 'admin:write'], claims: [], introspectors: [], accessTokenTTL: 600, managed_by: 'config' },
];
const NEW_FIELDS = { audience: NEW_API, name: 'New API', scopes: ['n:read', 'n:write'], claims: ['email'], introspectors: ['api-b'], accessTokenTTL: 120 };

describe('the config file’s APIs', () => {
  it('lists them, managed by config', async () => {
    expect(await call('GET', '/admin/apis')).toMatchObject({ status: 200, json: { apis: CONFIG_APIS } });
    expect((await call('GET', `/admin/apis/${encodeURIComponent(API_A)}`)).json).toEqual(CONFIG_APIS[0]);
  });

  it.each([
    ['PATCH', { name: 'Renamed', reason: 'try' }],
    ['DELETE', { reason: 'try' }],
  ])('refuses %s on one with 409 conflict: the config file is where it changes', async (method, body) => {
    const { status, json } = await call(method, `/admin/apis/${encodeURIComponent(API_A)}`, body);
    expect(status).toBe(409);
    expect(json).toEqual({ error: 'conflict', error_description: `the API "${API_A}" is managed by the config file (resourceServers): change it there and restart Latch` });
  });

  it('refuses to register an API with a config API’s audience (409)', async () => {
    const { status, json } = await call('POST', '/admin/apis', { ...NEW_FIELDS, audience: API_B, reason: 'try' });
    expect(status).toBe(409);
    expect(json).toEqual({ error: 'conflict', error_description: `the API "${API_B}" is managed by the config file (resourceServers): change it there and restart Latch` });
  });
});

describe('validation', () => {
  it.each([
    [{ ...NEW_FIELDS, audience: 'not a uri' }, 'audience: must be an absolute URI (RFC 8707 §2)'],
    [{ ...NEW_FIELDS, audience: 'https://x.test/#frag' }, 'audience: must not contain a fragment (RFC 8707 §2)'],
    [{ ...NEW_FIELDS, audience: 'urn:latch:ssf' }, 'audience: "urn:latch:…" audiences are Latch\'s own APIs; only the config file defines them'],
    [{ ...NEW_FIELDS, scopes: [] }, 'scopes: Too small: expected array to have >=1 items'],
    [{ ...NEW_FIELDS, scopes: ['bad"scope'] }, 'scopes[0]: must be a scope token (RFC 6749 §3.3)'],
    [{ ...NEW_FIELDS, name: '' }, 'name: Too small: expected string to have >=1 characters'],
    [{ ...NEW_FIELDS, accessTokenTTL: 0 }, 'accessTokenTTL: Too small: expected number to be >0'],
    [{ ...NEW_FIELDS, introspectors: ['api-b', 'ghost'] }, 'introspectors[1]: no client has client_id "ghost"'],
    [{ ...NEW_FIELDS, surprise: 1 }, 'body: unknown field(s) surprise'],
  ])('answers 400 invalid_request naming the field (%#)', async (fields, description) => {
    const { status, json } = await call('POST', '/admin/apis', { ...fields, reason: 'test' });
    expect(status).toBe(400);
    expect(json).toEqual({ error: 'invalid_request', error_description: description });
  });

  it('asks for a reason (it goes to the audit log)', async () => {
    const { status, json } = await call('POST', '/admin/apis', NEW_FIELDS);
    expect(status).toBe(400);
    expect(json).toEqual({ error: 'invalid_request', error_description: 'reason: is required: say why (it goes to the audit log)' });
  });

  it('answers 404 for an audience nobody registered, and 400 for a malformed path', async () => {
    expect((await call('GET', PATH)).json).toEqual({ error: 'not_found', error_description: `no API with audience "${NEW_API}"` });
    expect((await call('PATCH', PATH, { name: 'x', reason: 'r' })).status).toBe(404);
    expect((await call('DELETE', PATH, { reason: 'r' })).status).toBe(404);
    expect(await call('GET', '/admin/apis/%E0%A4%A')).toMatchObject({ status: 400, json: { error: 'invalid_request', error_description: 'malformed percent-encoding in the path' } });
  });

  it('lets an admin:read token list but not write (403 insufficient_scope)', async () => {
    const auditor = await adminToken(latch.url, 'auditor');
    expect((await adminCall(latch.url, 'GET', '/admin/apis', auditor)).status).toBe(200);
    const { status, json } = await adminCall(latch.url, 'POST', '/admin/apis', auditor, { ...NEW_FIELDS, reason: 'r' });
    expect(status).toBe(403);
    expect(json).toMatchObject({ error: 'insufficient_scope' });
  });
});

describe('an API registered at run time', () => {
  let created: Record<string, unknown>;

  it('is refused tokens before it is registered (invalid_target)', async () => {
    // A config client whose scope allow-list names the API's scopes is refused until the API exists (oidc-provider checks it against the scopes it knows).
    expect((await machineToken('n:read', ['limited', API_SECRETS.limited])).json).toEqual({
      error: 'invalid_client_metadata', error_description: 'scope must only contain Authorization Server supported scope values',
    });
    const { status, json } = await machineToken('n:read');
    expect(status).toBe(400);
    expect(json).toEqual({ error: 'invalid_target', error_description: `client may not obtain tokens for ${NEW_API}` });
  });

  it('registers: 201 with the stored API, audited', async () => {
    const { status, json } = await call('POST', '/admin/apis', { ...NEW_FIELDS, reason: 'orders v1 goes live' });
    expect(status).toBe(201);
    expect(json).toEqual({
      api: { ...NEW_FIELDS, managed_by: 'admin', created_at: expect.any(Number), updated_at: expect.any(Number), revision: 1 },
      audit_id: expect.stringMatching(/^\d+-\d+$/),
    });
    created = json!.api as Record<string, unknown>;
    expect(created.updated_at).toBe(created.created_at);
    expect(await audit(json!.audit_id)).toEqual({
      id: json!.audit_id, actor: 'security-admin', action: 'create-api', target: `api:${NEW_API}`, reason: 'orders v1 goes live', count: 0, at: expect.any(Number),
      detail: { api: NEW_FIELDS },
    });
    expect((await call('GET', PATH)).json).toEqual(created);
    expect((await call('GET', '/admin/apis')).json).toEqual({ apis: [...CONFIG_APIS, created] });
  });

  it('refuses to register the same audience twice (409)', async () => {
    const { status, json } = await call('POST', '/admin/apis', { ...NEW_FIELDS, reason: 'again' });
    expect(status).toBe(409);
    expect(json).toEqual({ error: 'conflict', error_description: `an API with audience "${NEW_API}" is registered already` });
  });

  it('gets client-credentials tokens with resource=<audience>, with its TTL, introspected by its introspector', async () => {
    const { status, json } = await machineToken('n:read n:write');
    expect(status).toBe(200);
    expect(json).toMatchObject({ token_type: 'Bearer', expires_in: 120, scope: 'n:read n:write' });
    expect(await introspect(json!.access_token as string)).toEqual({
      active: true, client_id: 'tools', aud: NEW_API, scope: 'n:read n:write', iss: latch.url, token_type: 'Bearer',
      iat: expect.any(Number), exp: expect.any(Number),
    });
    // Another API's introspector learns nothing.
    expect(await introspect(json!.access_token as string, ['api-a', SECRETS.apiA])).toEqual({ active: false });
  });

  it('has its scopes known to oidc-provider: discovery lists them, and a client’s scope allow-list governs them', async () => {
    expect(await scopesSupported()).toEqual(expect.arrayContaining(['n:read', 'n:write']));
    // The same client works now that the API exists.
    expect((await machineToken('n:read', ['limited', API_SECRETS.limited])).status).toBe(200);
    const { status, json } = await machineToken('n:write', ['limited', API_SECRETS.limited]);
    expect(status).toBe(400);
    expect(json).toMatchObject({ error: 'invalid_scope' });
  });

  it('gets user tokens through the login and consent pages; its introspector receives the claims it releases', async () => {
    const client = await clientFor(latch.url, 'app', API_SECRETS.app);
    const { tokens } = await logIn(latch.url, client, { scope: 'openid n:read', resource: NEW_API });
    expect(tokens.scope).toBe('n:read');
    expect(await introspect(tokens.access_token)).toEqual({
      active: true, sub: 'sub-alice', client_id: 'app', aud: NEW_API, scope: 'n:read', iss: latch.url, token_type: 'Bearer',
      iat: expect.any(Number), exp: expect.any(Number), auth_time: expect.any(Number), acr: expect.any(String), amr: expect.any(Array),
      roles: ['viewer'], email: 'alice@example.test',
    });
    userToken = tokens.access_token;
  });

  let userToken: string;

  it('changes claims, scopes and TTL: the next introspection and the next token reflect them, audited with before and after', async () => {
    const { status, json } = await call('PATCH', PATH, { claims: ['name', 'preferred_username'], scopes: ['n:write'], accessTokenTTL: 60, reason: 'reader scope retired' });
    expect(status).toBe(200);
    expect(json).toEqual({
      api: { ...NEW_FIELDS, claims: ['name', 'preferred_username'], scopes: ['n:write'], accessTokenTTL: 60, managed_by: 'admin', created_at: created.created_at, updated_at: expect.any(Number), revision: 2 },
      audit_id: expect.stringMatching(/^\d+-\d+$/),
    });
    expect((await audit(json!.audit_id))!.detail).toEqual({
      before: { scopes: ['n:read', 'n:write'], claims: ['email'], accessTokenTTL: 120 },
      after: { scopes: ['n:write'], claims: ['name', 'preferred_username'], accessTokenTTL: 60 },
    });
    // The user token was granted n:read, which the API no longer has; the claims are the new ones.
    const answer = await introspect(userToken);
    expect(answer).toMatchObject({ active: true, sub: 'sub-alice', aud: NEW_API, name: 'Alice', preferred_username: 'alice' });
    expect(answer!.scope).toBeUndefined();
    expect(answer!.email).toBeUndefined();
    // The next token: the new TTL, and n:read is no scope of the API any more.
    expect((await machineToken('n:write')).json).toMatchObject({ expires_in: 60, scope: 'n:write' });
    expect((await machineToken('n:read')).json).toEqual({ error: 'invalid_scope', error_description: `${NEW_API} has no scope n:read`, scope: 'n:read' });
    expect(await scopesSupported()).not.toContain('n:read');
  });

  it('refuses to change the audience, or nothing at all', async () => {
    expect((await call('PATCH', PATH, { audience: 'https://other.test', reason: 'r' })).json).toEqual({
      error: 'invalid_request', error_description: 'audience: cannot change (it is in every token issued for the API): register another API and remove this one',
    });
    expect((await call('PATCH', PATH, { reason: 'r' })).json).toEqual({ error: 'invalid_request', error_description: 'body: give at least one of name, scopes, claims, introspectors, accessTokenTTL' });
    expect((await call('PATCH', PATH, { introspectors: ['ghost'], reason: 'r' })).json).toEqual({ error: 'invalid_request', error_description: 'introspectors[0]: no client has client_id "ghost"' });
  });

  it('is removed: its tokens answer active:false from then on, to everyone, and no new token is issued for it', async () => {
    const token = (await machineToken('n:write')).json!.access_token as string;
    expect(await introspect(token)).toMatchObject({ active: true });
    const { status, json } = await call('DELETE', PATH, { reason: 'v1 retired' });
    expect(status).toBe(200);
    expect(json).toEqual({
      deleted: expect.objectContaining({ audience: NEW_API, managed_by: 'admin', revision: 2 }),
      audit_id: expect.stringMatching(/^\d+-\d+$/),
    });
    expect(await audit(json!.audit_id)).toMatchObject({ action: 'delete-api', target: `api:${NEW_API}`, reason: 'v1 retired', detail: { api: expect.objectContaining({ audience: NEW_API }) } });
    expect(await introspect(token)).toEqual({ active: false });
    expect(await introspect(userToken)).toEqual({ active: false });
    // Not even the client the token was issued to sees it active.
    expect(await introspect(token, ['tools', API_SECRETS.tools])).toEqual({ active: false });
    expect((await machineToken('n:write')).json).toEqual({ error: 'invalid_target', error_description: `client may not obtain tokens for ${NEW_API}` });
    expect((await call('GET', PATH)).status).toBe(404);
    expect(await scopesSupported()).not.toContain('n:write');
    expect(await redis.client.keys('latch:api:*')).toEqual([]);
    oldToken = token;
  });

  let oldToken: string;

  it('registered again under the same audience, does not bring back the earlier API’s tokens; its new ones work', async () => {
    // Past the clock-skew allowance between an instance's iat and Redis's clock (5 s).
    await new Promise((r) => setTimeout(r, 6000));
    const { status } = await call('DELETE', `${PATH}?reason=${encodeURIComponent('nothing there')}`);
    expect(status).toBe(404);
    expect((await call('POST', '/admin/apis', { ...NEW_FIELDS, reason: 'v1 back' })).status).toBe(201);
    expect(await introspect(oldToken)).toEqual({ active: false });
    const fresh = (await machineToken('n:read')).json!.access_token as string;
    expect(await introspect(fresh)).toMatchObject({ active: true, aud: NEW_API });
    // DELETE takes its reason from the query string too.
    const removed = await call('DELETE', `${PATH}?reason=${encodeURIComponent('done')}`);
    expect(removed.status).toBe(200);
    expect(await audit(removed.json!.audit_id)).toMatchObject({ action: 'delete-api', reason: 'done' });
  }, 20_000);
});

describe('Redis down', () => {
  it('answers 503 temporarily_unavailable to the admin write and to introspection (fail closed)', async () => {
    expect((await call('POST', '/admin/apis', { ...NEW_FIELDS, reason: 'up' })).status).toBe(201);
    const token = (await machineToken('n:read')).json!.access_token as string;
    await redis.stop();
    try {
      const write = await call('PATCH', PATH, { name: 'x', reason: 'down' });
      expect(write.status).toBe(503);
      expect(write.json).toMatchObject({ error: 'temporarily_unavailable' });
      const answer = await postForm(`${latch.url}/introspect`, { token }, apiB);
      expect(answer.status).toBe(503);
      expect(answer.json).toMatchObject({ error: 'temporarily_unavailable' });
    } finally {
      await redis.start();
    }
    // Back (the test server keeps no data across a restart): the admin API answers again.
    for (let i = 0; i < 200 && (await fetch(`${latch.opsUrl}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await adminCall(latch.url, 'GET', '/admin/apis', await adminToken(latch.url))).status).toBe(200);
  }, 20_000);
});

describe('GET /admin/openapi.json', () => {
  it('describes /admin/apis and /admin/apis/{audience} with every method', async () => {
    const { json } = await adminCall(latch.url, 'GET', '/admin/openapi.json');
    const paths = json!.paths as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths['/admin/apis']!)).toEqual(['get', 'post']);
    expect(Object.keys(paths['/admin/apis/{audience}']!)).toEqual(['get', 'patch', 'delete']);
  });
});
