import type { RequestListener } from 'node:http';
import { expressResourceServer, koaResourceServer, type ResourceServerOptions } from 'latch/resource-server';
import { createOrdersApi as createExpressApi } from '../../examples/express-api/app.js';
import { optionsFromEnv } from '../../examples/koa-api/config.js';
import { createOrdersApi as createKoaApi } from '../../examples/koa-api/app.js';
import { ORDERS_API, RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { startLatchWith, type RsTestLatch } from '../support/rs-latch.js';
import { bearer, listen, type Listening } from '../support/rs-apps.js';
import { adminRevokeAccount, aliceTokens, serviceToken } from '../support/rs-tokens.js';
import { rewritePayload } from '../support/records.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import * as oidc from 'openid-client';
import { optionsFromEnv as expressOptionsFromEnv } from '../../examples/express-api/config.js';
import { dpopHandle, dpopHeaders, dpopKey } from '../support/dpop.js';
import { clientFor, logIn } from '../support/oauth.js';

let redis: TestRedis;
let latch: RsTestLatch;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatchWith(redis.url, (await rsConfig()).file);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

const options = (): ResourceServerOptions =>
  optionsFromEnv({ LATCH_ISSUER: latch.url, API_CLIENT_ID: 'orders-api', API_CLIENT_SECRET: RS_SECRETS.ordersApi, API_AUDIENCE: ORDERS_API });

const examples: Array<[string, () => { listener: RequestListener; close(): Promise<void> }]> = [
  [
    'examples/koa-api',
    () => {
      const api = koaResourceServer(options());
      return { listener: createKoaApi(api).callback(), close: () => api.close() };
    },
  ],
  [
    'examples/express-api',
    () => {
      const api = expressResourceServer(options());
      return { listener: createExpressApi(api) as unknown as RequestListener, close: () => api.close() };
    },
  ],
];

describe.each(examples)('%s', (_name, build) => {
  let server: Listening;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const built = build();
    close = built.close;
    server = await listen(built.listener);
  });
  afterAll(async () => {
    await server.close();
    await close();
  });

  const call = (path: string, token?: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, { ...init, headers: { ...(token ? bearer(token) : {}), ...(init.headers as Record<string, string>) } });

  it('answers /healthz without a token and everything else only with one', async () => {
    expect((await call('/healthz')).status).toBe(200);
    const response = await call('/orders');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="orders", DPoP realm="orders", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"');
  });

  it('shows the live permissions of the token at /me', async () => {
    const { access_token } = await aliceTokens(latch.url);
    const response = await call('/me', access_token);
    expect(await response.json()).toEqual({
      sub: 'sub-alice',
      username: 'alice',
      clientId: 'orders-web',
      scopes: ['orders:read', 'orders:write'],
      roles: ['viewer'],
      expiresAt: expect.any(String),
    });
  });

  it('lists and places orders with orders:read and orders:write', async () => {
    const { access_token } = await aliceTokens(latch.url);
    const placed = await call('/orders', access_token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ item: 'Teapot' }) });
    expect(placed.status).toBe(201);
    expect(await placed.json()).toMatchObject({ sub: 'sub-alice', item: 'Teapot' });
    const list = (await (await call('/orders', access_token)).json()) as { orders: Array<{ item: string }> };
    expect(list.orders.map((o) => o.item)).toEqual(['Welcome pack', 'Teapot']);
  });

  it('refuses to place an order without orders:write (403 insufficient_scope)', async () => {
    const { access_token } = await aliceTokens(latch.url, 'openid orders:read');
    expect((await call('/orders', access_token)).status).toBe(200);
    const response = await call('/orders', access_token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"item":"x"}' });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(await response.json()).toMatchObject({ error: 'insufficient_scope', scope: 'orders:write' });
  });

  it('keeps /admin/orders to the admin role (alice is not one)', async () => {
    const { access_token } = await aliceTokens(latch.url);
    const response = await call('/admin/orders', access_token);
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ error: 'insufficient_scope', error_description: 'requires the role admin' });
  });

  it('serves a machine token every order', async () => {
    const response = await call('/orders', await serviceToken(latch.url));
    expect(response.status).toBe(200);
  });

  it('changes the delivery address only after a recent sign-in (RFC 9470 step-up: 401 with max_age otherwise)', async () => {
    const put = (token: string, address: string) =>
      call('/address', token, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address }) });
    const { access_token: recent } = await aliceTokens(latch.url);
    expect(await (await put(recent, '1 Main St')).json()).toEqual({ address: '1 Main St' });
    expect(await (await call('/address', recent)).json()).toEqual({ address: '1 Main St' });

    // The same user, signed in ten minutes ago.
    const { access_token: old } = await aliceTokens(latch.url);
    await rewritePayload(redis.client, latch.store.keys.record('AccessToken', old), (p) => {
      (p.extra as Record<string, number>).auth_time -= 600;
    });
    const refused = await put(old, '2 Side St');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe(
      'Bearer realm="orders", error="insufficient_user_authentication", error_description="a more recent authentication is required", max_age="300", DPoP realm="orders", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"',
    );
    expect(await (await call('/address', old)).json()).toEqual({ address: '1 Main St' });
  });

  it('accepts DPoP-bound tokens through openid-client, and refuses them without their key', async () => {
    const key = await dpopKey();
    const client = await clientFor(latch.url, 'orders-web', RS_SECRETS.ordersWeb);
    const handle = dpopHandle(client, key);
    const { tokens } = await logIn(latch.url, client, { scope: 'openid orders:read orders:write', DPoP: handle });
    const placed = await oidc.fetchProtectedResource(client, tokens.access_token, new URL(`${server.url}/orders`), 'POST', JSON.stringify({ item: 'Kettle' }), new Headers({ 'content-type': 'application/json' }), { DPoP: handle });
    expect(placed.status).toBe(201);
    const me = await oidc.fetchProtectedResource(client, tokens.access_token, new URL(`${server.url}/me`), 'GET', null, undefined, { DPoP: handle });
    expect(await me.json()).toMatchObject({ sub: 'sub-alice', scopes: ['orders:read', 'orders:write'] });
    expect((await call('/me', tokens.access_token)).status).toBe(401);
  });
});

describe('the examples’ DPoP settings from the environment', () => {
  it.each([
    ['examples/koa-api', optionsFromEnv],
    ['examples/express-api', expressOptionsFromEnv],
  ])('%s: DPoP on by default, API_PUBLIC_URL, DPOP_NONCE_SECRET and DPOP_REPLAY_REDIS_URL set it up, DPOP=0 turns it off', (_name, fromEnv) => {
    expect(fromEnv({}).dpop).toEqual({});
    const secret = 'orders-api-dpop-nonce-secret-0123456789';
    expect(fromEnv({ API_PUBLIC_URL: 'https://orders.example', DPOP_NONCE_SECRET: secret, DPOP_REPLAY_REDIS_URL: 'redis://r:6379' }).dpop).toEqual({
      publicUrl: 'https://orders.example',
      nonce: { secret },
      replay: { redisUrl: 'redis://r:6379' },
    });
    expect(fromEnv({ DPOP: '0' }).dpop).toBe(false);
  });

  it('a Bearer-only example (DPOP=0) answers a DPoP request as one without credentials', async () => {
    const api = koaResourceServer({ ...options(), dpop: false });
    const server = await listen(createKoaApi(api).callback());
    try {
      const client = await clientFor(latch.url, 'orders-web', RS_SECRETS.ordersWeb);
      const key = await dpopKey();
      const { tokens } = await logIn(latch.url, client, { scope: 'openid orders:read', DPoP: dpopHandle(client, key) });
      const response = await fetch(`${server.url}/me`, { headers: await dpopHeaders(key, tokens.access_token, 'GET', `${server.url}/me`) });
      expect([response.status, response.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="orders"']);
    } finally {
      await server.close();
      await api.close();
    }
  });
});

describe('live permissions across both examples', () => {
  it('an admin revoking alice makes both APIs answer 401 on the very next call', async () => {
    const koa = koaResourceServer(options());
    const express = expressResourceServer(options());
    const servers = [await listen(createKoaApi(koa).callback()), await listen(createExpressApi(express) as unknown as RequestListener)];
    try {
      const { access_token } = await aliceTokens(latch.url);
      for (const s of servers) expect((await fetch(`${s.url}/orders`, { headers: bearer(access_token) })).status).toBe(200);
      await adminRevokeAccount(latch.url, 'alice');
      for (const s of servers) {
        const response = await fetch(`${s.url}/orders`, { headers: bearer(access_token) });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
      }
    } finally {
      await Promise.all(servers.map((s) => s.close()));
      await Promise.all([koa.close(), express.close()]);
    }
  });
});
