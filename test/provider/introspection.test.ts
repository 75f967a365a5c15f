import { compactVerify, createLocalJWKSet, decodeJwt, type JSONWebKeySet } from 'jose';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { rewritePayload } from '../support/records.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A, API_B, SECRETS } from '../support/test-config.js';
import * as oidc from 'openid-client';

let redis: TestRedis;
let latch: TestLatch;
let userTokens: { access_token: string; refresh_token: string };
let serviceToken: string;

const apiA: [string, string] = ['api-a', SECRETS.apiA];
const apiB: [string, string] = ['api-b', SECRETS.apiB];
const introspect = (form: Record<string, string>, auth?: [string, string], headers?: Record<string, string>) =>
  postForm(`${latch.url}/introspect`, form, auth, headers);

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  const { tokens } = await logIn(latch.url, await webClient(latch.url));
  userTokens = { access_token: tokens.access_token, refresh_token: tokens.refresh_token! };
  const svc = await clientFor(latch.url, 'svc', SECRETS.svc);
  serviceToken = (await oidc.clientCredentialsGrant(svc, { scope: 'b:read', resource: API_B })).access_token;
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('POST /introspect (RFC 7662)', () => {
  it('answers an active user access token with exactly the RFC fields, to the API it is for', async () => {
    const { status, json, headers } = await introspect({ token: userTokens.access_token }, apiA);
    expect(status).toBe(200);
    expect(headers.get('cache-control')).toBe('no-store');
    const now = Math.floor(Date.now() / 1000);
    expect(json).toEqual({
      active: true,
      sub: 'sub-alice',
      // Live from the account: its roles, and the claims API A is configured to receive.
      roles: ['viewer'],
      username: 'alice',
      email: 'alice@example.test',
      client_id: 'web',
      scope: 'a:read',
      aud: API_A,
      iss: latch.url,
      token_type: 'Bearer',
      iat: expect.any(Number),
      exp: expect.any(Number),
      // When and how alice signed in (RFC 9470 §6.1).
      auth_time: expect.any(Number),
      acr: 'urn:latch:acr:password',
      amr: ['pwd'],
    });
    expect(json!.exp as number).toBeGreaterThan(now);
    expect(json!.iat as number).toBeLessThanOrEqual(now);
  });

  it('answers a client-credentials token to its API', async () => {
    const { json } = await introspect({ token: serviceToken }, apiB);
    expect(json).toMatchObject({ active: true, client_id: 'svc', aud: API_B, scope: 'b:read', token_type: 'Bearer' });
    expect(json).not.toHaveProperty('sub');
  });

  it('answers {"active":false} to a resource server of another audience', async () => {
    expect((await introspect({ token: userTokens.access_token }, apiB)).json).toEqual({ active: false });
    expect((await introspect({ token: serviceToken }, apiA)).json).toEqual({ active: false });
  });

  it('lets a client introspect its own tokens, including its refresh token', async () => {
    const web: [string, string] = ['web', SECRETS.web];
    expect((await introspect({ token: userTokens.access_token }, web)).json).toMatchObject({ active: true, client_id: 'web' });
    const refresh = await introspect({ token: userTokens.refresh_token }, web);
    expect(refresh.json).toMatchObject({ active: true, client_id: 'web', sub: 'sub-alice' });
    expect(refresh.json).not.toHaveProperty('token_type');
  });

  it('answers {"active":false} to another client for someone else\'s tokens', async () => {
    const other: [string, string] = ['other-web', SECRETS.other];
    expect((await introspect({ token: userTokens.access_token }, other)).json).toEqual({ active: false });
    expect((await introspect({ token: userTokens.refresh_token }, apiA)).json).toEqual({ active: false });
  });

  it('finds the token whatever the token_type_hint says', async () => {
    for (const hint of ['access_token', 'refresh_token', 'unknown_type']) {
      const { json } = await introspect({ token: userTokens.access_token, token_type_hint: hint }, apiA);
      expect(json).toMatchObject({ active: true });
    }
  });

  it('answers exactly {"active":false} for unknown and malformed tokens', async () => {
    for (const token of ['A'.repeat(43), 'not a token', 'x', '€€€', 'a.b.c', 'A'.repeat(4000)]) {
      const { status, json } = await introspect({ token }, apiA);
      expect(status).toBe(200);
      expect(json).toEqual({ active: false });
    }
  });

  it('answers exactly {"active":false} for an expired token', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    // Rewrite the stored expiry into the past (the record stays in Redis for the clock tolerance).
    await rewritePayload(redis.client, latch.store.keys.record('AccessToken', tokens.access_token), (payload) => {
      payload.exp = Math.floor(Date.now() / 1000) - 60;
    });
    expect((await introspect({ token: tokens.access_token }, apiA)).json).toEqual({ active: false });
  });

  it('refuses a request without client authentication with 401 invalid_client', async () => {
    const { status, json, headers } = await introspect({ token: userTokens.access_token });
    expect(status).toBe(401);
    expect(json).toEqual({ error: 'invalid_client', error_description: 'client authentication is required' });
    expect(headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  it('refuses a wrong client secret and an unknown client with 401 invalid_client', async () => {
    for (const auth of [['api-a', 'wrong-secret'], ['nobody', 'whatever']] as Array<[string, string]>) {
      const { status, json } = await introspect({ token: userTokens.access_token }, auth);
      expect(status).toBe(401);
      expect(json).toMatchObject({ error: 'invalid_client' });
    }
  });

  it('refuses a missing token parameter with invalid_request', async () => {
    const { status, json } = await introspect({}, apiA);
    expect(status).toBe(400);
    expect(json).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses a body over 56 KiB with invalid_request, and a non-form body', async () => {
    const big = await introspect({ token: 'x'.repeat(60 * 1024) }, apiA);
    expect(big.status).toBe(400);
    expect(big.json).toEqual({ error: 'invalid_request', error_description: 'failed to parse the request body' });
    const response = await fetch(`${latch.url}/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`api-a:${SECRETS.apiA}`).toString('base64')}` },
      body: JSON.stringify({ token: userTokens.access_token }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses GET', async () => {
    const response = await fetch(`${latch.url}/introspect?token=${userTokens.access_token}`);
    expect(response.status).toBe(404);
  });

  it('answers a signed JWT (RFC 9701) when asked with Accept: application/token-introspection+jwt', async () => {
    const { status, headers, text } = await introspect({ token: userTokens.access_token }, apiA, {
      accept: 'application/token-introspection+jwt',
    });
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^application\/token-introspection\+jwt/);
    const jwks = (await (await fetch(`${latch.url}/jwks`)).json()) as JSONWebKeySet;
    const { protectedHeader } = await compactVerify(text, createLocalJWKSet(jwks));
    expect(protectedHeader.typ).toBe('token-introspection+jwt');
    const claims = decodeJwt(text);
    expect(claims).toMatchObject({ iss: latch.url, aud: 'api-a', token_introspection: { active: true, sub: 'sub-alice', aud: API_A } });
  });
});
