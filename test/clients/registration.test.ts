import * as oidc from 'openid-client';
import { adminCall, adminToken } from '../support/admin.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A, REDIRECT_URI, SECRETS, testFileConfig } from '../support/test-config.js';

/**
 * Dynamic Client Registration (RFC 7591) with initial access tokens issued through the admin API,
 * and client management (RFC 7592) with the registration access token. The registering side is
 * openid-client v6 where it has the call (registration), plain HTTP for RFC 7592.
 */
let redis: TestRedis;
let latch: TestLatch;
let admin: string;

beforeAll(async () => {
  redis = await startRedis();
  const file = {
    ...testFileConfig(),
    registration: {
      enabled: true, open: false,
      openPolicy: { grant_types: ['authorization_code', 'refresh_token'] as Array<'authorization_code' | 'refresh_token'>, scope: 'openid offline_access profile email', resources: [], httpsOnly: true },
    },
  };
  latch = await startLatch(redis.url, { file });
  admin = await adminToken(latch.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

const options = () => ({ execute: [oidc.allowInsecureRequests] });

async function initialAccessToken(body: Record<string, unknown>): Promise<string> {
  const { status, json } = await adminCall(latch.url, 'POST', '/admin/initial-access-tokens', admin, { reason: 'partner onboarding', ...body });
  expect(status).toBe(201);
  return json!.initial_access_token as string;
}

async function register(metadata: Record<string, unknown>, token?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${latch.url}/reg`, { method: 'POST', headers, body: JSON.stringify(metadata) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('dynamic client registration', () => {
  it('advertises the registration endpoint', async () => {
    const discovery = (await (await fetch(`${latch.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.registration_endpoint).toBe(`${latch.url}/reg`);
  });

  it('refuses a registration without an initial access token', async () => {
    expect(await register({ redirect_uris: ['https://app.example/cb'] })).toMatchObject({ status: 401, json: { error: 'invalid_token' } });
    expect(await register({ redirect_uris: ['https://app.example/cb'] }, 'not-a-token')).toMatchObject({ status: 401, json: { error: 'invalid_token' } });
  });

  it('issues initial access tokens through the admin API, audited without the token', async () => {
    const { status, json } = await adminCall(latch.url, 'POST', '/admin/initial-access-tokens', admin, { uses: 2, ttl_seconds: 600, reason: 'two partners' });
    expect(status).toBe(201);
    expect(json).toEqual({
      initial_access_token: expect.any(String), uses: 2, expires_at: expect.any(Number),
      policy: { grant_types: ['authorization_code', 'refresh_token'], scope: 'openid offline_access profile email', resources: [], httpsOnly: true },
      audit_id: expect.any(String),
    });
    const audit = await adminCall(latch.url, 'GET', '/admin/audit?limit=1000', admin);
    const entry = (audit.json!.entries as Array<Record<string, unknown>>).filter((e) => e.action === 'issue-initial-access-token').at(-1)!;
    expect(entry).toMatchObject({ actor: 'security-admin', target: 'registration', reason: 'two partners', detail: { uses: 2 } });
    expect(JSON.stringify(entry)).not.toContain(json!.initial_access_token as string);
    const keys = await redis.client.keys('*');
    expect(keys.join(' ')).not.toContain(json!.initial_access_token as string);
  });

  it('registers a client with openid-client, which then signs a user in (code flow) and gets API tokens', async () => {
    const iat = await initialAccessToken({ policy: { grant_types: ['authorization_code', 'refresh_token'], scope: 'openid offline_access a:read', resources: [API_A], httpsOnly: false } });
    const client = await oidc.dynamicClientRegistration(new URL(latch.url), {
      client_name: 'Partner app', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      scope: 'openid offline_access a:read', resources: [API_A],
    } as Partial<oidc.ClientMetadata>, undefined, { ...options(), initialAccessToken: iat });
    const metadata = client.clientMetadata();
    expect(metadata.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(metadata.registration_access_token).toEqual(expect.any(String));
    const { tokens } = await logIn(latch.url, client, { scope: 'openid offline_access a:read' });
    const answer = await postForm(`${latch.url}/introspect`, { token: tokens.access_token }, ['api-a', SECRETS.apiA]);
    expect(answer.json).toMatchObject({ active: true, client_id: metadata.client_id, aud: API_A, scope: 'a:read' });
    // Only the secret's keyed hash is stored.
    const values = await Promise.all((await redis.client.keys('latch:mc:{*')).map((k) => redis.client.get(k)));
    expect(values.join('\n')).toContain(metadata.client_id);
    expect(values.join('\n')).not.toContain(metadata.client_secret as string);
  });

  it('a one-time initial access token registers one client only', async () => {
    const iat = await initialAccessToken({ uses: 1 });
    expect(await register({ redirect_uris: ['https://one.example/cb'] }, iat)).toMatchObject({ status: 201 });
    expect(await register({ redirect_uris: ['https://two.example/cb'] }, iat)).toMatchObject({ status: 401, json: { error: 'invalid_token' } });
  });

  it('refuses what the policy does not allow, with invalid_redirect_uri or invalid_client_metadata naming the field', async () => {
    const iat = await initialAccessToken({ uses: 10 });
    expect(await register({ redirect_uris: ['http://app.example/cb'] }, iat)).toMatchObject({
      status: 400, json: { error: 'invalid_redirect_uri', error_description: 'redirect_uris[0]: must be https (http only for a loopback host, RFC 8252 §7.3)' },
    });
    expect(await register({ redirect_uris: ['https://*.example/cb'] }, iat)).toMatchObject({ status: 400, json: { error: 'invalid_redirect_uri' } });
    expect(await register({ redirect_uris: ['https://app.example/cb#x'] }, iat)).toMatchObject({ status: 400, json: { error: 'invalid_redirect_uri' } });
    expect(await register({ redirect_uris: ['https://app.example/cb'], grant_types: ['client_credentials'], response_types: [] }, iat)).toMatchObject({
      status: 400, json: { error: 'invalid_client_metadata', error_description: 'grant_types[0]: "client_credentials" is not allowed by the registration policy' },
    });
    expect(await register({ redirect_uris: ['https://app.example/cb'], scope: 'openid a:write' }, iat)).toMatchObject({
      status: 400, json: { error: 'invalid_client_metadata', error_description: 'scope: "a:write" is not allowed by the registration policy' },
    });
    expect(await register({ redirect_uris: ['https://app.example/cb'], resources: [API_A] }, iat)).toMatchObject({
      status: 400, json: { error: 'invalid_client_metadata', error_description: `resources[0]: "${API_A}" is not allowed by the registration policy` },
    });
    expect(await register({ redirect_uris: ['https://app.example/cb'], jwks_uri: 'http://169.254.169.254/keys' }, iat)).toMatchObject({
      status: 400, json: { error: 'invalid_client_metadata', error_description: 'jwks_uri: not accepted in a registration (register jwks by value)' },
    });
    // A native app may use a loopback http redirect (RFC 8252 §7.3).
    expect((await register({ redirect_uris: ['http://127.0.0.1:8123/cb'], application_type: 'native', token_endpoint_auth_method: 'none' }, iat)).status).toBe(201);
  });

  it('manages the client with its registration access token (RFC 7592): read, update, delete', async () => {
    const iat = await initialAccessToken({});
    const created = await register({ client_name: 'Self-managed', redirect_uris: ['https://self.example/cb'] }, iat);
    expect(created.status).toBe(201);
    const { client_id: id, client_secret: secret, registration_access_token: rat, registration_client_uri: uri } = created.json as Record<string, string>;
    expect(uri).toBe(`${latch.url}/reg/${id}`);
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });

    const read = await fetch(uri!, { headers: auth(rat!) });
    const readBody = (await read.json()) as Record<string, unknown>;
    expect(read.status).toBe(200);
    expect(readBody).toMatchObject({ client_id: id, client_name: 'Self-managed', redirect_uris: ['https://self.example/cb'], registration_access_token: rat });
    // The secret was shown once, at registration: never again.
    expect(readBody.client_secret).toBeUndefined();
    expect(JSON.stringify(readBody)).not.toContain('latch-hashed');

    const update = await fetch(uri!, {
      method: 'PUT', headers: { ...auth(rat!), 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: id, client_name: 'Renamed', redirect_uris: ['https://self.example/cb2'] }),
    });
    const updated = (await update.json()) as Record<string, unknown>;
    expect(update.status).toBe(200);
    expect(updated).toMatchObject({ client_id: id, client_name: 'Renamed', redirect_uris: ['https://self.example/cb2'] });
    const rotatedRat = updated.registration_access_token as string;
    expect(rotatedRat).not.toBe(rat);
    expect((await fetch(uri!, { headers: auth(rat!) })).status).toBe(401);
    // The secret still works after the update.
    expect((await postForm(`${latch.url}/introspect`, { token: 'x' }, [id!, secret!])).json).toEqual({ active: false });
    const badUpdate = await fetch(uri!, {
      method: 'PUT', headers: { ...auth(rotatedRat), 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: id, redirect_uris: ['http://self.example/cb'] }),
    });
    expect(badUpdate.status).toBe(400);
    expect(await badUpdate.json()).toMatchObject({ error: 'invalid_redirect_uri' });

    const del = await fetch(uri!, { method: 'DELETE', headers: auth(rotatedRat) });
    expect(del.status).toBe(204);
    expect(await postForm(`${latch.url}/introspect`, { token: 'x' }, [id!, secret!])).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    expect((await adminCall(latch.url, 'GET', `/admin/clients/${id}`, admin)).status).toBe(404);
    const audit = await adminCall(latch.url, 'GET', '/admin/audit?limit=1000', admin);
    const actions = (audit.json!.entries as Array<Record<string, unknown>>).filter((e) => e.target === `client:${id}`).map((e) => e.action);
    expect(actions).toEqual(['register-client', 'update-client-registration', 'delete-client']);
  });

  it('a client registered itself shows in the admin API as managed by registration', async () => {
    const iat = await initialAccessToken({});
    const created = await register({ redirect_uris: ['https://listed.example/cb'] }, iat);
    const shown = await adminCall(latch.url, 'GET', `/admin/clients/${created.json.client_id as string}`, admin);
    expect(shown.json).toMatchObject({ client_id: created.json.client_id, managed_by: 'registration', redirect_uris: ['https://listed.example/cb'] });
    // Security staff may change it like any managed client.
    const renamed = await adminCall(latch.url, 'PATCH', `/admin/clients/${created.json.client_id as string}`, admin, { client_name: 'Reviewed', reason: 'review' });
    expect(renamed).toMatchObject({ status: 200, json: { client: { client_name: 'Reviewed', managed_by: 'registration' }, changed: ['client_name'] } });
  });
});
