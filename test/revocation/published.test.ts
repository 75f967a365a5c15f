import { createHash } from 'node:crypto';
import { ResourceServer } from 'latch/resource-server';
import * as oidc from 'openid-client';
import { parseFileConfig } from '../../src/config/load.js';
import { adminCall, adminToken, jobDone } from '../support/admin.js';
import { BrowserSession } from '../support/browser-session.js';
import { clientFor, logIn, postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { bearer, get, koaTestApi, listen, type Listening } from '../support/rs-apps.js';
import { ORDERS_API, RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { startLatchWith, type RsTestLatch } from '../support/rs-latch.js';
import { serviceToken } from '../support/rs-tokens.js';

/**
 * Every way a token or grant dies is published on `latch:events`, so a resource server whose
 * cache holds the token's active answer (kept up to 300 s) refuses it on the very next request:
 * no waiting, no polling. One test per revocation path.
 */
let redis: TestRedis;
let latch: RsTestLatch;
let rs: ResourceServer;
let api: Listening;
let admin: string;

/** One account per test that kills everything of its user (they must not spoil each other). */
const USERS = ['alice', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy'] as const;
type User = (typeof USERS)[number];
const password = (user: User) => (user === 'alice' ? 'alice-password-1' : `${user}-password-1`);

const LONDON = { 'cf-iplatitude': '51.5074', 'cf-iplongitude': '-0.1278', 'cf-ipcity': 'London', 'cf-ipcountry': 'GB' };
const TOKYO = { 'cf-iplatitude': '35.6762', 'cf-iplongitude': '139.6503', 'cf-ipcity': 'Tokyo', 'cf-ipcountry': 'JP' };

const ordersWeb = () => clientFor(latch.url, 'orders-web', RS_SECRETS.ordersWeb);

/** `user` signs in to orders-web (code + PKCE through Latch's pages) for the Orders API. */
async function signIn(user: User, options: { scope?: string; loginHeaders?: Record<string, string>; browser?: BrowserSession } = {}) {
  const client = await ordersWeb();
  const { tokens, browser } = await logIn(latch.url, client, {
    scope: options.scope ?? 'openid offline_access orders:read orders:write',
    username: user,
    password: password(user),
    loginHeaders: options.loginHeaders,
    browser: options.browser,
  });
  return { client, browser, access: tokens.access_token, refresh: tokens.refresh_token! };
}

/** Asks the resource server once (Latch answers active) and once more (the cache answers: Latch is not asked). */
async function cached(token: string): Promise<void> {
  expect((await get(`${api.url}/me`, bearer(token))).status).toBe(200);
  const asked = latch.introspections();
  expect((await get(`${api.url}/me`, bearer(token))).status).toBe(200);
  expect(latch.introspections()).toBe(asked);
}

/** The very next request through the resource server, right after the revocation answered. */
async function expectDenied(token: string): Promise<void> {
  const response = await get(`${api.url}/me`, bearer(token));
  expect(response.status).toBe(401);
  expect(response.json).toEqual({ error: 'invalid_token', error_description: 'the access token is not active (expired, revoked or unknown)' });
  expect(response.headers['www-authenticate']).toBe(
    `Bearer realm="${ORDERS_API}", error="invalid_token", error_description="the access token is not active (expired, revoked or unknown)", DPoP realm="${ORDERS_API}", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"`,
  );
}

async function adminWrite(method: 'POST' | 'PUT', path: string, body: Record<string, unknown> = {}) {
  const { status, json } = await adminCall(latch.url, method, path, admin, { reason: 'test: published', ...body });
  expect({ status, json }).toMatchObject({ status: 200 });
  return json!;
}

/** Signs `user` in to the devices page with a cookie-keeping client; returns the page. */
async function devicesPage(user: User) {
  const browser = new BrowserSession();
  let page = await browser.follow(`${latch.url}/account/devices`, latch.url);
  const response = await browser.submit(page.url, page.html!, '/login', { username: user, password: password(user) });
  page = await browser.follow(new URL(response.headers.get('location')!, page.url).href, latch.url);
  expect(page.url).toBe(`${latch.url}/account/devices`);
  return { browser, page };
}

const sha256 = (token: string) => createHash('sha256').update(token).digest('base64url');

/** The events `action` made Latch publish (read back from the Stream, which holds what pub/sub carried). */
async function eventsOf(action: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  const before = (await redis.client.xrevrange('latch:events:stream', '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
  await action();
  const entries = await redis.client.xrange('latch:events:stream', `(${before}`, '+');
  return entries.map(([, fields]) => JSON.parse(fields[1]!) as Record<string, unknown>);
}

beforeAll(async () => {
  redis = await startRedis();
  const base = (await rsConfig()).file;
  const file = parseFileConfig({
    ...base,
    // Orders scopes governed by roles, for the live-permissions path (set-roles).
    roles: { ...base.roles, viewer: [...base.roles.viewer!, 'orders:read'], editor: [...base.roles.editor!, 'orders:read', 'orders:write'] },
    accounts: [
      ...base.accounts,
      ...USERS.filter((u) => u !== 'alice').map((u) => ({ sub: `sub-${u}`, username: u, password: password(u), roles: ['viewer'] })),
    ],
  });
  latch = await startLatchWith(redis.url, file);
  admin = await adminToken(latch.url);
  rs = new ResourceServer({
    issuer: latch.url,
    client: { clientId: 'orders-api', clientSecret: RS_SECRETS.ordersApi },
    audience: ORDERS_API,
    cache: { maxTtlSeconds: 300, revocationEvents: { redisUrl: redis.url } },
    logger: { warn: () => {} },
  });
  await rs.ready();
  api = await listen(koaTestApi(rs));
});
afterAll(async () => {
  await api?.close();
  await rs?.close();
  await latch?.close();
  await redis?.close();
});

describe('RFC 7009 revocation', () => {
  it('of a refresh token: its grant\'s cached access token is refused on the next request', async () => {
    const { access, refresh } = await signIn('alice');
    await cached(access);
    const { status } = await postForm(`${latch.url}/revoke`, { token: refresh, token_type_hint: 'refresh_token' }, ['orders-web', RS_SECRETS.ordersWeb]);
    expect(status).toBe(200);
    await expectDenied(access);
  });

  it('of an access token: the grant\'s other access token, cached, is refused on the next request', async () => {
    const { client, access, refresh } = await signIn('alice');
    const sibling = (await oidc.refreshTokenGrant(client, refresh)).access_token;
    await cached(sibling);
    const { status } = await postForm(`${latch.url}/revoke`, { token: access }, ['orders-web', RS_SECRETS.ordersWeb]);
    expect(status).toBe(200);
    await expectDenied(sibling);
  });

  it('of a client-credentials token: the cached token is refused on the next request', async () => {
    const token = await serviceToken(latch.url);
    await cached(token);
    const { status } = await postForm(`${latch.url}/revoke`, { token }, ['svc-orders', RS_SECRETS.svcOrders]);
    expect(status).toBe(200);
    await expectDenied(token);
  });
});

describe('deaths inside oidc-provider', () => {
  it('refresh token reuse: the grant\'s cached access token is refused on the next request', async () => {
    const { client, refresh } = await signIn('alice');
    const rotated = await oidc.refreshTokenGrant(client, refresh);
    await cached(rotated.access_token);
    await expect(oidc.refreshTokenGrant(client, refresh)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expectDenied(rotated.access_token);
  });

  it('refresh token reuse by concurrent requests (the lost consume race): the cached access token is refused next', async () => {
    const { client, access, refresh } = await signIn('alice');
    await cached(access);
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => oidc.refreshTokenGrant(client, refresh)));
    expect(outcomes.filter((o) => o.status === 'rejected').length).toBeGreaterThanOrEqual(4);
    await expectDenied(access);
  });

  it('RP-initiated logout: the signed-out session\'s cached access token is refused on the next request', async () => {
    // Without offline_access the grant ends with the browser session (oidc-provider keeps offline grants).
    const { browser, access } = await signIn('alice', { scope: 'openid orders:read' });
    await cached(access);
    const page = await browser.follow(`${latch.url}/session/end?client_id=orders-web`, latch.url);
    expect(page.html).toContain('Yes, sign me out');
    const confirmed = await browser.submit(page.url, page.html!, '/session/end/confirm', { logout: 'yes' });
    expect(confirmed.status).toBe(303);
    await expectDenied(access);
  });
});

describe('what is published', () => {
  const at = expect.any(Number);

  it('RFC 7009 of a refresh token: the token, then its grant once (not once per model oidc-provider revokes it for)', async () => {
    const { refresh } = await signIn('alice');
    const events = await eventsOf(() => postForm(`${latch.url}/revoke`, { token: refresh }, ['orders-web', RS_SECRETS.ordersWeb]));
    const by = { actor: 'orders-web', reason: 'revoked by the client (RFC 7009)' };
    expect(events).toEqual([
      { v: 1, type: 'revocation', scope: 'token', sub: 'sub-alice', client_id: 'orders-web', token_sha256: sha256(refresh), ...by, at },
      { v: 1, type: 'revocation', scope: 'grant', sub: 'sub-alice', client_id: 'orders-web', ...by, at },
    ]);
  });

  it('RP-initiated logout: each ended grant once, by the user', async () => {
    const { browser } = await signIn('alice', { scope: 'openid orders:read' });
    const page = await browser.follow(`${latch.url}/session/end?client_id=orders-web`, latch.url);
    const events = await eventsOf(() => browser.submit(page.url, page.html!, '/session/end/confirm', { logout: 'yes' }));
    expect(events).toEqual([
      { v: 1, type: 'revocation', scope: 'grant', sub: 'sub-alice', client_id: 'orders-web', actor: 'user', reason: 'signed out (RP-initiated logout)', at },
    ]);
  });

  it('refresh token reuse: the grant, by Latch', async () => {
    const { client, refresh } = await signIn('alice');
    await oidc.refreshTokenGrant(client, refresh);
    const events = await eventsOf(() => oidc.refreshTokenGrant(client, refresh).catch(() => undefined));
    expect(events.filter((e) => e.scope === 'grant')).toEqual([
      { v: 1, type: 'revocation', scope: 'grant', sub: 'sub-alice', client_id: 'orders-web', actor: 'latch', reason: 'refresh token reuse', at },
    ]);
  });

  it('admin revoke-token: the grant the token took with it, and the token\'s hash, in one event', async () => {
    const { access } = await signIn('alice');
    const events = await eventsOf(() => adminWrite('POST', '/admin/tokens/revoke', { token: access, reason: 'leaked in a log' }));
    expect(events).toEqual([
      { v: 1, type: 'revocation', scope: 'grant', sub: 'sub-alice', client_id: 'orders-web', token_sha256: sha256(access), actor: 'security-admin', reason: 'leaked in a log', at },
    ]);
  });

  it('the cleanup job after an epoch publishes nothing more (the epoch\'s event said it all)', async () => {
    await signIn('alice');
    const events = await eventsOf(async () => {
      const { job } = await adminWrite('POST', '/admin/accounts/alice/revoke', { reason: 'stolen phone' });
      await jobDone(latch.url, admin, job as string);
    });
    expect(events).toEqual([{ v: 1, type: 'revocation', scope: 'account', sub: 'sub-alice', actor: 'security-admin', reason: 'stolen phone', at }]);
  });
});

describe('the admin API', () => {
  it('revoke-token: a sibling access token of the same grant, cached, is refused on the next request', async () => {
    const { client, access, refresh } = await signIn('alice');
    const sibling = (await oidc.refreshTokenGrant(client, refresh)).access_token;
    await cached(sibling);
    expect(await adminWrite('POST', '/admin/tokens/revoke', { token: access })).toMatchObject({ grants: 1 });
    await expectDenied(sibling);
  });

  it('revoke-session: the session\'s cached access token is refused on the next request', async () => {
    const { access } = await signIn('carol');
    await cached(access);
    const { json } = await adminCall(latch.url, 'GET', '/admin/accounts/carol/sessions', admin);
    const session = (json!.sessions as Array<{ id: string; client_id: string }>).find((s) => s.client_id === 'orders-web')!;
    await adminWrite('POST', `/admin/accounts/carol/sessions/${session.id}/revoke`);
    await expectDenied(access);
  });

  it('revoke-user: the user\'s cached access token is refused on the next request', async () => {
    const { access } = await signIn('dave');
    await cached(access);
    await adminWrite('POST', '/admin/accounts/dave/revoke');
    await expectDenied(access);
  });

  it('revoke-user-client: the user\'s cached access token of that client is refused on the next request', async () => {
    const { access } = await signIn('erin');
    await cached(access);
    await adminWrite('POST', '/admin/accounts/erin/clients/orders-web/revoke');
    await expectDenied(access);
  });

  it('revoke-client: a machine token of the client, cached, is refused on the next request', async () => {
    const token = await serviceToken(latch.url);
    await cached(token);
    await adminWrite('POST', '/admin/clients/svc-orders/revoke');
    await expectDenied(token);
  });

  it('disable: the account\'s cached access token is refused on the next request', async () => {
    const { access } = await signIn('frank');
    await cached(access);
    await adminWrite('POST', '/admin/accounts/frank/disable');
    await expectDenied(access);
  });

  it('delete: the account\'s cached access token is refused on the next request', async () => {
    const { access } = await signIn('grace');
    await cached(access);
    await adminWrite('POST', '/admin/accounts/grace/delete');
    await expectDenied(access);
  });

  it('set-roles: the cached answer\'s scope gives way to the new roles on the next request', async () => {
    const { access } = await signIn('heidi');
    await cached(access);
    expect((await get(`${api.url}/me`, bearer(access))).json).toMatchObject({ auth: { scopes: ['orders:read'], roles: ['viewer'] } });
    expect((await get(`${api.url}/write`, bearer(access))).status).toBe(403);
    await adminWrite('PUT', '/admin/accounts/heidi/roles', { roles: ['editor'] });
    expect((await get(`${api.url}/write`, bearer(access))).json).toMatchObject({ auth: { scopes: ['orders:read', 'orders:write'], roles: ['editor'] } });
  });
});

describe('the devices page and automatic responses', () => {
  it('End: the ended device\'s cached access token is refused on the next request', async () => {
    const { access } = await signIn('ivan');
    await cached(access);
    const { browser, page } = await devicesPage('ivan');
    const row = [...page.html!.matchAll(/<tr>[\s\S]*?<\/tr>/g)].map((m) => m[0]).find((r) => r.includes('Orders Web'))!;
    const action = /action="([^"]+\/end)"/.exec(row)![1]!;
    const ended = await browser.submit(page.url, row.replace(/^<tr>/, `<form action="${action}">`).replace(/<\/tr>$/, '</form>'), '/end');
    expect(ended.status).toBe(303);
    await expectDenied(access);
  });

  it('Log out of all devices: the user\'s cached access token is refused on the next request', async () => {
    const { access } = await signIn('judy');
    await cached(access);
    const { browser, page } = await devicesPage('judy');
    const done = await browser.submit(page.url, page.html!, '/account/logout-all');
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Signed out everywhere');
    await expectDenied(access);
  });

  it('impossible travel: the London session\'s cached access token is refused on the next request, after the Tokyo login', async () => {
    const london = await signIn('alice', { loginHeaders: LONDON });
    await cached(london.access);
    // Five minutes later (the test cannot wait): a login from Tokyo.
    const key = latch.store.keys.accountLogins('sub-alice');
    const last = JSON.parse((await redis.client.lindex(key, 0))!);
    await redis.client.lset(key, 0, JSON.stringify({ ...last, at: last.at - 5 * 60_000 }));
    await expect(signIn('alice', { loginHeaders: TOKYO })).rejects.toThrow(/login step failed with 403/);
    await expectDenied(london.access);
  });
});
