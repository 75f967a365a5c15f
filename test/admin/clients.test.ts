import * as oidc from 'openid-client';
import { adminCall, adminToken } from '../support/admin.js';
import { assertionForm, clientAssertion, jwtClientKey } from '../support/client-assertion.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { clientFor, logIn, postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A, API_B, REDIRECT_URI, SECRETS } from '../support/test-config.js';

/**
 * Clients managed at run time through the admin API (docs/clients.md): create, list, show,
 * update, rotate the secret with a grace period, delete; config clients read-only; the secret shown
 * once and only its keyed hash in Redis. Real Redis, real Latch over HTTP, real clients.
 */
let redis: TestRedis;
let latch: TestLatch;
let admin: string;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  admin = await adminToken(latch.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

const call = (method: string, path: string, body?: unknown) => adminCall(latch.url, method, path, admin, body);
const machineToken = (clientId: string, secret: string, scope = 'a:read') => postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope }, [clientId, secret]);
const introspect = async (token: string, as: [string, string] = ['api-a', SECRETS.apiA]) => postForm(`${latch.url}/introspect`, { token }, as);
const INVALID_CLIENT = { error: 'invalid_client', error_description: 'client authentication failed' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function lastAudit(action: string): Promise<Record<string, unknown>> {
  const { json } = await call('GET', '/admin/audit?limit=1000');
  return (json!.entries as Array<Record<string, unknown>>).filter((e) => e.action === action).at(-1)!;
}

async function dumpRedis(): Promise<string> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.client.scan(cursor, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      out.push(key);
      const type = await redis.client.type(key);
      if (type === 'string') out.push((await redis.client.get(key)) ?? '');
      if (type === 'hash') out.push(JSON.stringify(await redis.client.hgetall(key)));
      if (type === 'zset') out.push(JSON.stringify(await redis.client.zrange(key, '0', '-1')));
      if (type === 'set') out.push(JSON.stringify(await redis.client.smembers(key)));
      if (type === 'list') out.push(JSON.stringify(await redis.client.lrange(key, '0', '-1')));
      if (type === 'stream') out.push(JSON.stringify(await redis.client.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return out.join('\n');
}

describe('the admin API for clients', () => {
  let secret: string;

  it('creates a client, shows its secret once and answers with its registration', async () => {
    const { status, json } = await call('POST', '/admin/clients', {
      client_id: 'reports', client_name: 'Nightly reports', grant_types: ['client_credentials'], scope: 'a:read b:read', resources: [API_A, API_B],
      access_token_ttl: 300, reason: 'new batch job',
    });
    expect(status).toBe(201);
    secret = json!.client_secret as string;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const now = Math.floor(Date.now() / 1000);
    expect(json).toEqual({
      client: {
        client_id: 'reports',
        client_name: 'Nightly reports',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        post_logout_redirect_uris: [],
        scope: 'a:read b:read',
        resources: [API_A, API_B],
        access_token_ttl: 300,
        managed_by: 'admin',
        created_at: expect.any(Number),
        updated_at: expect.any(Number),
        client_secret_issued_at: expect.any(Number),
        client_secret_expires_at: 0,
      },
      client_secret: secret,
      audit_id: expect.stringMatching(/^\d+-\d+$/),
    });
    expect(Math.abs((json!.client as { created_at: number }).created_at - now)).toBeLessThanOrEqual(2);
    expect(await lastAudit('create-client')).toMatchObject({ actor: 'security-admin', target: 'client:reports', reason: 'new batch job', count: 0 });
    expect(JSON.stringify(await lastAudit('create-client'))).not.toContain(secret);
  });

  it('lets the new client get tokens with its secret at once, with its own TTL', async () => {
    const { status, json } = await machineToken('reports', secret);
    expect(status).toBe(200);
    expect(json).toMatchObject({ token_type: 'Bearer', expires_in: 300, scope: 'a:read' });
    const { json: answer } = await introspect(json!.access_token as string);
    expect(answer).toMatchObject({ active: true, client_id: 'reports', aud: API_A, scope: 'a:read' });
    // A managed client introspects its own token like a config client.
    expect((await introspect(json!.access_token as string, ['reports', secret])).json).toMatchObject({ active: true, client_id: 'reports' });
    expect(await machineToken('reports', `${secret.slice(0, -1)}x`)).toMatchObject({ status: 401, json: INVALID_CLIENT });
  });

  it('keeps only a keyed hash of the secret: it appears nowhere in Redis', async () => {
    const dump = await dumpRedis();
    expect(dump).toContain('"client_id":"reports"');
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain(Buffer.from(secret).toString('base64'));
  });

  it('lists config and managed clients, config ones marked read-only', async () => {
    const { status, json } = await call('GET', '/admin/clients');
    expect(status).toBe(200);
    const clients = json!.clients as Array<Record<string, unknown>>;
    expect(clients.map((c) => c.client_id)).toEqual(['api-a', 'api-b', 'auditor', 'other-web', 'reports', 'security-admin', 'spa', 'svc', 'web']);
    expect(clients.find((c) => c.client_id === 'svc')).toEqual({
      client_id: 'svc', token_endpoint_auth_method: 'client_secret_basic', grant_types: ['client_credentials'], redirect_uris: [], post_logout_redirect_uris: [],
      scope: 'a:read b:read', resources: [API_A, API_B], managed_by: 'config',
    });
    expect(JSON.stringify(json)).not.toContain(SECRETS.svc);
    expect((await call('GET', '/admin/clients/reports')).json).toMatchObject({ client_id: 'reports', managed_by: 'admin', scope: 'a:read b:read' });
    expect(await call('GET', '/admin/clients/nope')).toMatchObject({ status: 404, json: { error: 'not_found', error_description: 'no client "nope"' } });
  });

  it('refuses every write to a config client with 409, naming the config file as its source', async () => {
    const readOnly = { error: 'conflict', error_description: 'client "svc" is managed by the config file (read-only in the admin API): change it there and restart' };
    expect(await call('PATCH', '/admin/clients/svc', { scope: 'a:read', reason: 'x' })).toMatchObject({ status: 409, json: readOnly });
    expect(await call('POST', '/admin/clients/svc/rotate-secret', { reason: 'x' })).toMatchObject({ status: 409, json: readOnly });
    expect(await call('POST', '/admin/clients/svc/delete', { reason: 'x' })).toMatchObject({ status: 409, json: readOnly });
    expect(await call('POST', '/admin/clients', { client_id: 'svc', grant_types: ['client_credentials'], reason: 'x' })).toMatchObject({ status: 409, json: readOnly });
    expect(await call('POST', '/admin/clients', { client_id: 'reports', grant_types: ['client_credentials'], reason: 'x' })).toMatchObject({
      status: 409, json: { error: 'conflict', error_description: 'client "reports" exists already' },
    });
    expect((await machineToken('svc', SECRETS.svc)).status).toBe(200);
  });

  it('refuses bad metadata with the RFC 7591 error naming the field', async () => {
    const create = (fields: Record<string, unknown>) => call('POST', '/admin/clients', { client_id: 'bad', grant_types: ['client_credentials'], reason: 'test', ...fields });
    expect(await create({ resources: ['https://nope.test'] })).toMatchObject({
      status: 400, json: { error: 'invalid_client_metadata', error_description: 'resources[0]: no resource server has audience "https://nope.test"' },
    });
    expect(await create({ scope: 'a:read z:write' })).toMatchObject({
      status: 400, json: { error: 'invalid_client_metadata', error_description: 'scope: no resource server has scope "z:write" (and it is not an OpenID Connect scope)' },
    });
    expect(await create({ grant_types: ['password'] })).toMatchObject({ status: 400, json: { error: 'invalid_client_metadata', error_description: expect.stringMatching(/^grant_types\[0\]: /) } });
    expect(await create({ grant_types: ['authorization_code'] })).toMatchObject({
      status: 400, json: { error: 'invalid_redirect_uri', error_description: 'redirect_uris: required for authorization_code' },
    });
    expect(await create({ grant_types: ['authorization_code'], redirect_uris: ['https://app.test/cb#frag'] })).toMatchObject({
      status: 400, json: { error: 'invalid_redirect_uri', error_description: 'redirect_uris[0]: must not include a fragment (RFC 6749 §3.1.2)' },
    });
    expect(await create({ client_id: 'has space' })).toMatchObject({ status: 400, json: { error: 'invalid_request', error_description: 'client_id: must be 1-128 of letters, digits, . _ ~ -' } });
    expect(await create({ reason: undefined })).toMatchObject({ status: 400, json: { error: 'invalid_request', error_description: 'reason: is required: say why (it goes to the audit log)' } });
    expect(await create({ color: 'blue' })).toMatchObject({ status: 400, json: { error: 'invalid_client_metadata', error_description: 'body: unknown field(s) color' } });
    expect((await call('GET', '/admin/clients/bad')).status).toBe(404);
  });

  it('updates a client, audits what changed, and the change applies on the next request', async () => {
    const { status, json } = await call('PATCH', '/admin/clients/reports', { scope: 'b:read', resources: [API_B], reason: 'b only' });
    expect(status).toBe(200);
    expect(json).toMatchObject({ client: { client_id: 'reports', scope: 'b:read', resources: [API_B] }, changed: ['scope', 'resources'], audit_id: expect.any(String) });
    expect(json!.client_secret).toBeUndefined();
    expect(await lastAudit('update-client')).toMatchObject({ target: 'client:reports', reason: 'b only', detail: { changed: ['scope', 'resources'] } });
    expect(await machineToken('reports', secret, 'a:read')).toMatchObject({ status: 400, json: { error: 'invalid_scope' } });
    expect(await machineToken('reports', secret, 'b:read')).toMatchObject({ status: 200, json: { scope: 'b:read' } });
    expect(await call('PATCH', '/admin/clients/reports', { resources: ['https://nope.test'], reason: 'x' })).toMatchObject({ status: 400, json: { error: 'invalid_client_metadata' } });
  });

  it('rotates the secret: the old one works at /token, /revoke and /introspect until the grace ends, then is invalid_client', async () => {
    const { status, json } = await call('POST', '/admin/clients/reports/rotate-secret', { grace_seconds: 2, reason: 'yearly rotation' });
    expect(status).toBe(200);
    const fresh = json!.client_secret as string;
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(fresh).not.toBe(secret);
    expect((json!.client as Record<string, number>).previous_secret_expires_at).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
    expect(await lastAudit('rotate-client-secret')).toMatchObject({ target: 'client:reports', detail: { grace_seconds: 2 } });
    const token = (await machineToken('reports', fresh, 'b:read')).json!.access_token as string;
    // During the grace period both secrets work, everywhere.
    expect((await machineToken('reports', secret, 'b:read')).status).toBe(200);
    expect((await introspect(token, ['reports', secret])).json).toMatchObject({ active: true });
    expect((await postForm(`${latch.url}/revoke`, { token: 'unknown' }, ['reports', secret])).status).toBe(200);
    await sleep(2200);
    expect(await machineToken('reports', secret, 'b:read')).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    expect(await postForm(`${latch.url}/revoke`, { token: 'unknown' }, ['reports', secret])).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    expect(await introspect(token, ['reports', secret])).toMatchObject({ status: 401, json: INVALID_CLIENT });
    expect((await introspect(token, ['reports', fresh])).json).toMatchObject({ active: true });
    secret = fresh;
  });

  it('rotates without a grace period: the old secret dies at once', async () => {
    const { json } = await call('POST', '/admin/clients/reports/rotate-secret', { reason: 'leaked' });
    expect(await machineToken('reports', secret, 'b:read')).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    secret = json!.client_secret as string;
    expect((await machineToken('reports', secret, 'b:read')).status).toBe(200);
  });

  it('deletes a client: its tokens are dead on the next introspection and it can no longer authenticate', async () => {
    const token = (await machineToken('reports', secret, 'b:read')).json!.access_token as string;
    expect((await introspect(token, ['api-b', SECRETS.apiB])).json).toMatchObject({ active: true });
    const { status, json } = await call('POST', '/admin/clients/reports/delete', { reason: 'job retired' });
    expect(status).toBe(200);
    expect(json).toEqual({ deleted: true, epoch: expect.any(Number), grants: 0, sessions: 0, tokens: expect.any(Number), job: expect.any(String), audit_id: expect.any(String) });
    expect((await introspect(token, ['api-b', SECRETS.apiB])).json).toEqual({ active: false });
    expect(await machineToken('reports', secret, 'b:read')).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    expect((await call('GET', '/admin/clients/reports')).status).toBe(404);
    expect(await lastAudit('delete-client')).toMatchObject({ target: 'client:reports', reason: 'job retired' });
  });

  it('signs a user in to a managed web client (authorization code, its own redirect URI origin in the CSP)', async () => {
    const { json } = await call('POST', '/admin/clients', {
      client_id: 'partner-web', client_name: 'Partner', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI],
      post_logout_redirect_uris: ['https://partner.example/bye'], scope: 'openid offline_access a:read', resources: [API_A], reason: 'partner onboarding',
    });
    const client = await clientFor(latch.url, 'partner-web', json!.client_secret as string);
    const { tokens } = await logIn(latch.url, client, { scope: 'openid offline_access a:read' });
    expect((await introspect(tokens.access_token)).json).toMatchObject({ active: true, client_id: 'partner-web', aud: API_A });
    const refreshed = await oidc.refreshTokenGrant(client, tokens.refresh_token!);
    expect(refreshed.access_token).toEqual(expect.any(String));
    const page = await fetch(`${latch.url}/session/end`);
    expect(page.headers.get('content-security-policy')).toContain('https://partner.example');
  });

  it('authenticates a managed private_key_jwt client at /token and /introspect with its registered keys; a new key set applies at once', async () => {
    const first = await jwtClientKey('k1');
    const created = await call('POST', '/admin/clients', {
      client_id: 'signer', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [first.publicJwk] }, grant_types: ['client_credentials'],
      scope: 'a:read', resources: [API_A], reason: 'keys only',
    });
    expect(created.status).toBe(201);
    expect(created.json!.client_secret).toBeUndefined();
    const assertion = (jwk: typeof first.privateJwk) => clientAssertion('signer', jwk, { aud: latch.url });
    const issued = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope: 'a:read', ...assertionForm('signer', await assertion(first.privateJwk)) });
    expect(issued).toMatchObject({ status: 200, json: { token_type: 'Bearer' } });
    const own = await postForm(`${latch.url}/introspect`, { token: issued.json!.access_token as string, ...assertionForm('signer', await assertion(first.privateJwk)) });
    expect(own.json).toMatchObject({ active: true, client_id: 'signer' });
    // A secret is the wrong family for this client.
    expect(await introspect('x', ['signer', 'y'.repeat(43)])).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    const second = await jwtClientKey('k2');
    expect((await call('PATCH', '/admin/clients/signer', { jwks: { keys: [second.publicJwk] }, reason: 'key rotation' })).status).toBe(200);
    const old = await postForm(`${latch.url}/introspect`, { token: 'x', ...assertionForm('signer', await assertion(first.privateJwk)) });
    expect(old).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    const fresh = await postForm(`${latch.url}/introspect`, { token: 'x', ...assertionForm('signer', await assertion(second.privateJwk)) });
    expect(fresh).toMatchObject({ status: 200, json: { active: false } });
  });

  it('refuses initial access tokens while dynamic registration is off (the default)', async () => {
    expect(await call('POST', '/admin/initial-access-tokens', { reason: 'x' })).toMatchObject({
      status: 400, json: { error: 'invalid_request', error_description: 'initial access tokens need registration.enabled, without registration.open, in the config' },
    });
    expect((await fetch(`${latch.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(404);
  });

  it('answers 503 temporarily_unavailable when Redis is down, for an admin write and for a managed client at /token', async () => {
    await redis.stop();
    try {
      const token = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials' }, ['unknown-managed', 'x'.repeat(43)]);
      expect(token).toMatchObject({ status: 503, json: { error: 'temporarily_unavailable' } });
      const introspection = await introspect('whatever', ['unknown-managed', 'x'.repeat(43)]);
      expect(introspection).toMatchObject({ status: 503, json: { error: 'temporarily_unavailable' } });
      expect(await call('POST', '/admin/clients', { client_id: 'late', grant_types: ['client_credentials'], reason: 'x' })).toMatchObject({ status: 503, json: { error: 'temporarily_unavailable' } });
    } finally {
      await redis.start();
    }
  });
});
