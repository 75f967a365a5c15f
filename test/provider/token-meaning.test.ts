import * as oidc from 'openid-client';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A, API_B, SECRETS } from '../support/test-config.js';

/** Tokens mean what was asked: the audience and scope of a token are the ones requested, or an error. */
let redis: TestRedis;
let latch: TestLatch;

const introspect = async (token: string, caller: [string, string]) => (await postForm(`${latch.url}/introspect`, { token }, caller)).json;
const apiA: [string, string] = ['api-a', SECRETS.apiA];
const apiB: [string, string] = ['api-b', SECRETS.apiB];
const machineToken = (form: Record<string, string>) => postForm(`${latch.url}/token`, { grant_type: 'client_credentials', ...form }, ['svc', SECRETS.svc]);

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('a sign-in that asks for no API scope', () => {
  it('gets an access token for userinfo only: /me answers it, and no API accepts it', async () => {
    const client = await webClient(latch.url);
    const { tokens } = await logIn(latch.url, client, { scope: 'openid profile email' });
    expect(tokens.scope).toBe('openid profile email');
    await expect(oidc.fetchUserInfo(client, tokens.access_token, 'sub-alice')).resolves.toEqual({
      sub: 'sub-alice',
      name: 'Alice',
      preferred_username: 'alice',
      email: 'alice@example.test',
      email_verified: true,
    });
    expect(await introspect(tokens.access_token, apiA)).toEqual({ active: false });
    expect(await introspect(tokens.access_token, apiB)).toEqual({ active: false });
    const own = await introspect(tokens.access_token, ['web', SECRETS.web]);
    expect(own).toMatchObject({ active: true, client_id: 'web', sub: 'sub-alice', scope: 'openid profile email' });
    expect(own).not.toHaveProperty('aud');
  });

  it('still gets, without a resource, the API that knows a requested scope (and that API only)', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url), { scope: 'openid b:read' });
    expect(await introspect(tokens.access_token, apiB)).toMatchObject({ active: true, aud: API_B, scope: 'b:read' });
    expect(await introspect(tokens.access_token, apiA)).toEqual({ active: false });
  });
});

describe('client credentials (RFC 6749 §5.2: invalid_scope rather than a token without the scope)', () => {
  it.each([
    ['a scope the resource does not know', { scope: 'b:read', resource: API_A }, `${API_A} has no scope b:read`, 'b:read'],
    ['a scope no API knows', { scope: 'nonsense', resource: API_A }, `${API_A} has no scope nonsense`, 'nonsense'],
    ['one unknown scope beside a good one', { scope: 'a:read nonsense', resource: API_A }, `${API_A} has no scope nonsense`, 'nonsense'],
    ['scopes of two APIs, without a resource', { scope: 'a:read b:read' }, `${API_A} has no scope b:read`, 'b:read'],
    ['a scope no API of the client knows, without a resource', { scope: 'nonsense other' }, 'no API of this client has the scopes nonsense other', 'nonsense other'],
    ['a scope the client may not have', { scope: 'a:read admin:write', resource: API_A }, 'the client may not request the scope admin:write', 'admin:write'],
    ['an OIDC scope (a machine token is for an API)', { scope: 'openid', resource: API_A }, 'the client may not request the scope openid', 'openid'],
  ])('answers 400 invalid_scope for %s', async (_case, form, description, scope) => {
    const { status, json, headers } = await machineToken(form);
    expect(status).toBe(400);
    expect(json).toEqual({ error: 'invalid_scope', error_description: description, scope });
    expect(headers.get('cache-control')).toBe('no-store');
  });

  it('issues exactly what was asked, for the API asked for or the one that knows the scopes', async () => {
    const forA = await machineToken({ scope: 'a:read', resource: API_A });
    expect(forA.json).toEqual({ access_token: expect.any(String), expires_in: 600, scope: 'a:read', token_type: 'Bearer' });
    const forB = await machineToken({ scope: 'b:read' });
    expect(forB.json).toMatchObject({ scope: 'b:read' });
    expect(await introspect(forB.json!.access_token as string, apiB)).toMatchObject({ active: true, aud: API_B, scope: 'b:read' });
  });

  it('asked for no scope and no resource: a token for the client\'s first API, with no scope', async () => {
    const { json } = await machineToken({});
    expect(json).toEqual({ access_token: expect.any(String), expires_in: 600, token_type: 'Bearer' });
    expect(await introspect(json!.access_token as string, apiA)).toMatchObject({ active: true, aud: API_A, client_id: 'svc' });
  });
});
