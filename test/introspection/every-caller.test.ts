import { request } from 'node:http';
import { compactVerify, createLocalJWKSet, decodeJwt, type JSONWebKeySet, type JWK } from 'jose';
import { ResourceServer } from 'latch/resource-server';
import { parseFileConfig } from '../../src/config/load.js';
import { adminCall, adminToken } from '../support/admin.js';
import { assertionForm, clientAssertion } from '../support/client-assertion.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { ORDERS_API, RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { cloneIntoTestRealm } from '../support/rs-jest-realm.js';
import { SECRETS } from '../support/test-config.js';

/**
 * Every introspection request gets Latch's own decision, whoever asks and however the request is
 * spelled: private_key_jwt callers, repeated parameters, media types in another case, JWT answers.
 * Each of these used to reach oidc-provider's own introspection (no live roles, no claim rules).
 */
let redis: TestRedis;
let latch: TestLatch;
let jwtKey: JWK;
let admin: string;
const rs: ResourceServer[] = [];

const ORDERS_JWT = 'orders-api-jwt';
const basicHeader = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

beforeAll(async () => {
  cloneIntoTestRealm();
  redis = await startRedis();
  const config = await rsConfig();
  jwtKey = config.ordersApiJwtKey;
  // Roles that govern the Orders API's scopes: a demotion takes orders:write away.
  const file = parseFileConfig({
    ...config.file,
    roles: { ...config.file.roles, 'orders-admin': ['orders:read', 'orders:write'], 'orders-viewer': ['orders:read'] },
    accounts: config.file.accounts.map((a) => (a.username === 'alice' ? { ...a, roles: ['viewer', 'orders-admin'] } : a)),
  });
  latch = await startLatch(redis.url, { file });
  admin = await adminToken(latch.url);
});
afterAll(async () => {
  await Promise.all(rs.map((r) => r.close()));
  await latch.close();
  await redis.close();
});

async function ordersToken(scope = 'openid email offline_access orders:read orders:write') {
  return (await logIn(latch.url, await clientFor(latch.url, 'orders-web', RS_SECRETS.ordersWeb), { scope })).tokens;
}

const assertion = (options: Partial<Parameters<typeof clientAssertion>[2]> = {}) => clientAssertion(ORDERS_JWT, jwtKey, { aud: latch.url, ...options });

/** POST /introspect with a raw body and headers (no Content-Type unless given). */
async function raw(body: string, headers: Record<string, string>) {
  const response = await fetch(`${latch.url}/introspect`, { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

describe('private_key_jwt callers get Latch’s decision', () => {
  it('a demoted admin introspected by a private_key_jwt resource server loses orders:write at once', async () => {
    const server = new ResourceServer({ issuer: latch.url, client: { method: 'private_key_jwt', clientId: ORDERS_JWT, privateKey: jwtKey }, audience: ORDERS_API });
    rs.push(server);
    const { access_token } = await ordersToken();
    expect((await server.verify(access_token)).scopes).toEqual(['orders:read', 'orders:write']);
    const demoted = await adminCall(latch.url, 'PUT', '/admin/accounts/alice/roles', admin, { roles: ['viewer', 'orders-viewer'], reason: 'demoted' });
    expect(demoted.status).toBe(200);
    const after = await server.verify(access_token);
    expect(after.scopes).toEqual(['orders:read']);
    expect(after.claims).toMatchObject({ roles: ['viewer', 'orders-viewer'], email: 'alice@example.test', preferred_username: 'alice' });
    await adminCall(latch.url, 'PUT', '/admin/accounts/alice/roles', admin, { roles: ['viewer', 'orders-admin'], reason: 'restored' });
  });

  it('refuses a replayed assertion with 401 invalid_client', async () => {
    const { access_token } = await ordersToken();
    const form = assertionForm(ORDERS_JWT, await assertion());
    expect((await postForm(`${latch.url}/introspect`, { token: access_token, ...form })).json).toMatchObject({ active: true });
    const replay = await postForm(`${latch.url}/introspect`, { token: access_token, ...form });
    expect(replay.status).toBe(401);
    expect(replay.json).toEqual({ error: 'invalid_client', error_description: 'client assertion tokens must only be used once' });
    expect(replay.headers.get('www-authenticate')).toBe('Basic realm="latch"');
  });

  it('refuses at /introspect an assertion first spent at /token, and at /token one first spent at /introspect', async () => {
    const spentAtToken = assertionForm(ORDERS_JWT, await assertion());
    // Client authentication (and so the jti) comes before the grant type check.
    const token = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', ...spentAtToken });
    expect(token.json?.error).not.toBe('invalid_client');
    const there = await postForm(`${latch.url}/introspect`, { token: 'x', ...spentAtToken });
    expect([there.status, there.json]).toEqual([401, { error: 'invalid_client', error_description: 'client assertion tokens must only be used once' }]);

    const spentHere = assertionForm(ORDERS_JWT, await assertion());
    expect((await postForm(`${latch.url}/introspect`, { token: 'x', ...spentHere })).json).toEqual({ active: false });
    const back = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', ...spentHere });
    expect(back.status).toBe(401);
    expect(back.json).toMatchObject({ error: 'invalid_client' });
  });

  it('lets exactly one of 8 concurrent /introspect requests with the same assertion through', async () => {
    const form = assertionForm(ORDERS_JWT, await assertion());
    const answers = await Promise.all(Array.from({ length: 8 }, () => postForm(`${latch.url}/introspect`, { token: 'x', ...form })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 401, 401, 401, 401, 401, 401, 401]);
  });

  it('lets exactly one of 8 concurrent /token requests with the same assertion authenticate (the adapter’s replay write is SET NX)', async () => {
    const form = assertionForm(ORDERS_JWT, await assertion());
    const answers = await Promise.all(Array.from({ length: 8 }, () => postForm(`${latch.url}/token`, { grant_type: 'client_credentials', ...form })));
    // Authenticated, the client is then refused its grant type; the others fail authentication.
    expect(answers.map((a) => a.json?.error).sort()).toEqual(['invalid_client', 'invalid_client', 'invalid_client', 'invalid_client', 'invalid_client', 'invalid_client', 'invalid_client', 'unauthorized_client']);
  });

  it.each([
    ['the introspection endpoint URL', () => `${latch.url}/introspect`],
    ['the token endpoint URL', () => `${latch.url}/token`],
    ['the issuer among others', () => [latch.url, 'https://other.example']],
    ['another server', () => 'https://other.example'],
  ])('refuses an assertion whose aud is %s, at /introspect and at /token (audience injection, RFC 9700)', async (_name, aud) => {
    const want = { error: 'invalid_client', error_description: `the client assertion's audience (aud) must be the issuer identifier ${latch.url}, alone` };
    const here = await postForm(`${latch.url}/introspect`, { token: 'x', ...assertionForm(ORDERS_JWT, await assertion({ aud: aud() })) });
    expect([here.status, here.json]).toEqual([401, want]);
    const token = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', ...assertionForm(ORDERS_JWT, await assertion({ aud: aud() })) });
    expect(token.status).toBe(401);
    expect(token.json).toMatchObject({ error: 'invalid_client', error_description: 'client authentication failed' });
  });

  it('accepts aud as a one-element array holding the issuer', async () => {
    const answer = await postForm(`${latch.url}/introspect`, { token: 'x', ...assertionForm(ORDERS_JWT, await assertion({ aud: [latch.url] })) });
    expect([answer.status, answer.json]).toEqual([200, { active: false }]);
  });

  it.each([
    ['lives longer than 5 minutes', { expiresIn: 600 }, 'the client assertion must expire within 300 seconds'],
    ['has no exp', { claims: { exp: undefined } }, 'the client assertion is invalid: missing required "exp" claim'],
    ['has no jti', { claims: { jti: undefined } }, 'the client assertion is invalid: missing required "jti" claim'],
    ['has expired', { expiresIn: -60 }, 'the client assertion is invalid: "exp" claim timestamp check failed'],
    ['was issued in the future', { claims: { iat: Math.floor(Date.now() / 1000) + 120 } }, 'the client assertion was issued in the future (iat)'],
    ['names another issuer than its subject', { iss: 'orders-api' }, 'the client assertion is invalid: unexpected "iss" claim value'],
  ])('refuses an assertion that %s', async (_name, options, description) => {
    const answer = await postForm(`${latch.url}/introspect`, { token: 'x', ...assertionForm(ORDERS_JWT, await assertion(options)) });
    expect([answer.status, answer.json]).toEqual([401, { error: 'invalid_client', error_description: description }]);
  });
});

describe('request parsing', () => {
  it('refuses a repeated parameter with invalid_request naming it (RFC 6749 §3.1)', async () => {
    const { access_token } = await ordersToken();
    const answer = await raw(`token=${access_token}&token=${access_token}`, {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicHeader('orders-api', RS_SECRETS.ordersApi),
    });
    expect([answer.status, answer.json]).toEqual([400, { error: 'invalid_request', error_description: "parameter 'token' must not be provided twice (RFC 6749 §3.1)" }]);
  });

  it('reads a form whose media type is in another case, with parameters (RFC 9110 §8.3.1)', async () => {
    const { access_token } = await ordersToken();
    const answer = await raw(new URLSearchParams({ token: access_token }).toString(), {
      'content-type': 'Application/X-WWW-Form-Urlencoded; charset=utf-8',
      authorization: basicHeader('orders-api', RS_SECRETS.ordersApi),
    });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ active: true, sub: 'sub-alice', roles: ['viewer', 'orders-admin'], email: 'alice@example.test' });
  });

  it.each([
    ['a JSON body', 'application/json', '{"token":"x"}'],
    ['a body without Content-Type', undefined, 'token=x'],
    ['a multipart body', 'multipart/form-data; boundary=x', '--x--'],
  ])('refuses %s with invalid_request saying what is expected', async (_name, type, body) => {
    const answer = await raw(body, { ...(type ? { 'content-type': type } : {}), authorization: basicHeader('orders-api', RS_SECRETS.ordersApi) });
    expect([answer.status, answer.json]).toEqual([400, { error: 'invalid_request', error_description: 'the request body must be application/x-www-form-urlencoded (RFC 7662 §2.1)' }]);
  });
});

describe('RFC 9701 signed answers', () => {
  it('signs with RS256 for a caller that asks but registered no algorithm (verified against /jwks)', async () => {
    const { access_token } = await ordersToken();
    const answer = await postForm(`${latch.url}/introspect`, { token: access_token }, ['orders-api', RS_SECRETS.ordersApi], { accept: 'application/token-introspection+jwt' });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/token-introspection+jwt; charset=utf-8');
    const jwks = (await (await fetch(`${latch.url}/jwks`)).json()) as JSONWebKeySet;
    const { protectedHeader } = await compactVerify(answer.text, createLocalJWKSet(jwks));
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'token-introspection+jwt' });
    expect(decodeJwt(answer.text)).toMatchObject({ iss: latch.url, aud: 'orders-api', token_introspection: { active: true, sub: 'sub-alice', aud: ORDERS_API } });
  });

  it('signs for a private_key_jwt caller too, and answers JSON when JSON is preferred', async () => {
    const signed = await postForm(`${latch.url}/introspect`, { token: 'x', ...assertionForm(ORDERS_JWT, await assertion()) }, undefined, { accept: 'application/token-introspection+jwt' });
    expect(decodeJwt(signed.text)).toMatchObject({ aud: ORDERS_JWT, token_introspection: { active: false } });
    const json = await postForm(`${latch.url}/introspect`, { token: 'x' }, ['orders-api', RS_SECRETS.ordersApi], { accept: 'application/json, application/token-introspection+jwt;q=0.5' });
    expect([json.headers.get('content-type'), json.json]).toEqual(['application/json; charset=utf-8', { active: false }]);
  });
});

describe('claims only to the API’s introspectors', () => {
  it('gives a client introspecting its own token the RFC 7662 fields, without email, username or roles', async () => {
    const { access_token } = await logIn(latch.url, await webClient(latch.url), { scope: 'openid email a:read' }).then((r) => r.tokens);
    const own = await postForm(`${latch.url}/introspect`, { token: access_token }, ['web', SECRETS.web]);
    expect(own.json).toEqual({
      active: true, sub: 'sub-alice', client_id: 'web', scope: 'a:read', aud: 'https://a.api.test', iss: latch.url, token_type: 'Bearer',
      exp: expect.any(Number), iat: expect.any(Number),
      // The facts of the sign-in (RFC 9470 §6.1) are the token's, not user data meant for an API.
      auth_time: expect.any(Number), acr: 'urn:latch:acr:password', amr: ['pwd'],
    });
    const api = await postForm(`${latch.url}/introspect`, { token: access_token }, ['api-a', SECRETS.apiA]);
    expect(api.json).toMatchObject({ active: true, roles: ['viewer', 'orders-admin'], email: 'alice@example.test', username: 'alice' });
  });
});

describe('the introspection route, however it is spelled', () => {
  it.each(['/introspect/', '/INTROSPECT', '/Introspect'])('answers %s with 404 invalid_request naming /introspect, even with valid credentials', async (path) => {
    const { access_token } = await ordersToken();
    const answer = await postForm(`${latch.url}${path}`, { token: access_token }, ['orders-api', RS_SECRETS.ordersApi]);
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual({
      error: 'invalid_request',
      error_description: 'no endpoint at this path; the introspection endpoint is /introspect (paths are case-sensitive, without a trailing slash)',
    });
  });

  it('serves an absolute-form request target for /introspect, and 404s its variant', async () => {
    const send = (target: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const { port } = new URL(latch.url);
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: target, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicHeader('orders-api', RS_SECRETS.ordersApi) } }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end('token=x');
      });
    expect(await send(`${latch.url}/introspect`)).toEqual({ status: 200, body: '{"active":false}' });
    expect((await send(`${latch.url}/INTROSPECT`)).status).toBe(404);
  });
});
