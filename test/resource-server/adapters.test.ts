import type { RequestListener } from 'node:http';
import { ResourceServer } from 'latch/resource-server';
import { ORDERS_API, RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { startLatchWith, type RsTestLatch } from '../support/rs-latch.js';
import { bearer, expressTestApi, get, koaTestApi, listen, type Listening } from '../support/rs-apps.js';
import { aliceTokens, revokeAsOrdersWeb, serviceToken } from '../support/rs-tokens.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { logIn, webClient } from '../support/oauth.js';

let redis: TestRedis;
let latch: RsTestLatch;
let alice: { access_token: string; refresh_token: string };
let aliceReadOnly: string;
let machine: string;
let otherAudience: string;
const warnings: string[] = [];

const REALM = 'orders';
/** RFC 9449 §7.1: an API that accepts DPoP too (the default) says so beside its Bearer challenge. */
const DPOP = 'DPoP realm="orders", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"';
const options = () => ({
  issuer: latch.url,
  client: { clientId: 'orders-api', clientSecret: RS_SECRETS.ordersApi },
  audience: ORDERS_API,
  realm: REALM,
  logger: { warn: (details: Record<string, unknown>, message: string) => void warnings.push(`${message} ${JSON.stringify(details)}`) },
});

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatchWith(redis.url, (await rsConfig()).file);
  alice = await aliceTokens(latch.url);
  aliceReadOnly = (await aliceTokens(latch.url, 'openid orders:read')).access_token;
  machine = await serviceToken(latch.url);
  otherAudience = (await logIn(latch.url, await webClient(latch.url))).tokens.access_token;
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe.each([
  ['Koa', koaTestApi],
  ['Express', expressTestApi],
] as Array<[string, (rs: ResourceServer) => RequestListener]>)('%s adapter (RFC 6750 against a real Latch)', (_name, build) => {
  let rs: ResourceServer;
  let api: Listening;
  beforeAll(async () => {
    rs = new ResourceServer(options());
    api = await listen(build(rs));
  });
  afterAll(async () => {
    await api.close();
    await rs.close();
  });

  it('puts the typed auth object on the request for an active token', async () => {
    const { status, json } = await get(`${api.url}/me`, bearer(alice.access_token));
    expect(status).toBe(200);
    expect(json).toEqual({
      path: '/me',
      auth: { sub: 'sub-alice', clientId: 'orders-web', scopes: ['orders:read', 'orders:write'], roles: ['viewer'], aud: [ORDERS_API], exp: expect.any(Number) },
    });
  });

  it('gives a machine token no sub', async () => {
    const { status, json } = await get(`${api.url}/read`, bearer(machine));
    expect(status).toBe(200);
    expect(json!.auth).toMatchObject({ clientId: 'svc-orders', scopes: ['orders:read'], aud: [ORDERS_API] });
    expect(json!.auth).not.toHaveProperty('sub');
  });

  it('answers a request without credentials 401 with a bare challenge and no error code (§3.1)', async () => {
    for (const headers of [{}, { authorization: 'Basic b3JkZXJzOnNlY3JldA==' }, { authorization: '' }] as Array<Record<string, string>>) {
      const { status, headers: h, text } = await get(`${api.url}/me`, headers);
      expect(status).toBe(401);
      expect(h['www-authenticate']).toBe(`Bearer realm="orders", ${DPOP}`);
      expect(text).toBe('');
    }
  });

  it('answers a malformed request 400 invalid_request', async () => {
    const cases: Array<Record<string, string | string[]>> = [
      { authorization: 'Bearer' },
      { authorization: 'Bearer   ' },
      { authorization: 'Bearer two tokens' },
      { authorization: 'Bearer tok"en' },
      { authorization: 'Bearer a,b' },
      { authorization: `Bearer ${'A'.repeat(5000)}` },
      { authorization: ['Bearer a', 'Bearer b'] },
    ];
    for (const headers of cases) {
      const { status, headers: h, json } = await get(`${api.url}/me`, headers);
      expect(status).toBe(400);
      expect(h['www-authenticate']).toMatch(/^Bearer realm="orders", error="invalid_request", error_description="[^"]+", DPoP realm="orders", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"$/);
      expect(json).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    }
  });

  it('refuses a token in the query string with 400, even a valid one, even beside a header (§2.3)', async () => {
    for (const headers of [{}, bearer(alice.access_token)]) {
      const { status, json } = await get(`${api.url}/me?access_token=${alice.access_token}`, headers);
      expect(status).toBe(400);
      expect(json).toEqual({
        error: 'invalid_request',
        error_description: 'access tokens are not accepted in the query string; send an Authorization: Bearer header',
      });
    }
  });

  it('answers an unknown token 401 invalid_token', async () => {
    const { status, headers, json } = await get(`${api.url}/me`, bearer('A'.repeat(43)));
    expect(status).toBe(401);
    expect(headers['www-authenticate']).toBe(
      `Bearer realm="orders", error="invalid_token", error_description="the access token is not active (expired, revoked or unknown)", ${DPOP}`,
    );
    expect(json).toEqual({ error: 'invalid_token', error_description: 'the access token is not active (expired, revoked or unknown)' });
    expect(headers['cache-control']).toBe('no-store');
  });

  it('answers a token of another API 401 invalid_token (Latch tells this resource server nothing about it)', async () => {
    const { status, json } = await get(`${api.url}/me`, bearer(otherAudience));
    expect(status).toBe(401);
    expect(json).toMatchObject({ error: 'invalid_token' });
  });

  it('answers a revoked token 401 invalid_token on the very next call', async () => {
    const tokens = await aliceTokens(latch.url);
    expect((await get(`${api.url}/me`, bearer(tokens.access_token))).status).toBe(200);
    await revokeAsOrdersWeb(latch.url, tokens.access_token);
    const { status, json } = await get(`${api.url}/me`, bearer(tokens.access_token));
    expect(status).toBe(401);
    expect(json).toMatchObject({ error: 'invalid_token' });
  });

  it('refuses a refresh token used as a bearer token', async () => {
    const { status, json } = await get(`${api.url}/me`, bearer(alice.refresh_token));
    expect(status).toBe(401);
    expect(json).toMatchObject({ error: 'invalid_token' });
  });

  it('answers a missing scope 403 insufficient_scope naming every scope needed (§3.1)', async () => {
    const { status, headers, json } = await get(`${api.url}/write`, bearer(aliceReadOnly));
    expect(status).toBe(403);
    expect(headers['www-authenticate']).toBe(
      `Bearer realm="orders", error="insufficient_scope", error_description="requires scope orders:read orders:write", scope="orders:read orders:write", ${DPOP}`,
    );
    expect(json).toEqual({ error: 'insufficient_scope', error_description: 'requires scope orders:read orders:write', scope: 'orders:read orders:write' });
    expect((await get(`${api.url}/read`, bearer(aliceReadOnly))).status).toBe(200);
    expect((await get(`${api.url}/write`, bearer(alice.access_token))).status).toBe(200);
  });

  it('requireAnyScope passes with one of the scopes and names them all when none is there', async () => {
    expect((await get(`${api.url}/any`, bearer(alice.access_token))).status).toBe(200);
    const { status, json } = await get(`${api.url}/any`, bearer(aliceReadOnly));
    expect(status).toBe(403);
    expect(json).toEqual({
      error: 'insufficient_scope',
      error_description: 'requires one of the scopes orders:write orders:admin',
      scope: 'orders:write orders:admin',
    });
  });

  it('requireRole lets a current role through and answers 403 insufficient_scope without scope= when the role is missing', async () => {
    expect((await get(`${api.url}/viewer`, bearer(alice.access_token))).status).toBe(200);
    const { status, headers, json } = await get(`${api.url}/admin`, bearer(alice.access_token));
    expect(status).toBe(403);
    expect(headers['www-authenticate']).toBe(`Bearer realm="orders", error="insufficient_scope", error_description="requires the role admin", ${DPOP}`);
    expect(json).toEqual({ error: 'insufficient_scope', error_description: 'requires the role admin' });
  });

  it('claimCheck lets the request through when the predicate holds and answers 403 when not', async () => {
    expect((await get(`${api.url}/alice`, bearer(alice.access_token))).status).toBe(200);
    const { status, json } = await get(`${api.url}/bob`, bearer(alice.access_token));
    expect(status).toBe(403);
    expect(json).toEqual({ error: 'insufficient_scope', error_description: 'bob only' });
  });

  it('never writes a token into its logs', () => {
    for (const token of [alice.access_token, alice.refresh_token, aliceReadOnly, machine]) {
      for (const line of warnings) expect(line).not.toContain(token);
    }
  });
});
