import { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import { TravelGuard } from '../../src/anomaly/impossible-travel.js';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { adminCall, adminToken } from '../support/admin.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { ALICE, REDIRECT_URI, SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;
let proxied: TestLatch;
let admin: string;
let subscriber: Redis;
const events: Array<Record<string, unknown>> = [];

const LONDON = { 'cf-iplatitude': '51.5074', 'cf-iplongitude': '-0.1278', 'cf-ipcity': 'London', 'cf-ipcountry': 'GB' };
const TOKYO = { 'cf-iplatitude': '35.6762', 'cf-iplongitude': '139.6503', 'cf-ipcity': 'Tokyo', 'cf-ipcountry': 'JP' };
const PARIS = { 'cf-iplatitude': '48.8566', 'cf-iplongitude': '2.3522', 'cf-ipcity': 'Paris', 'cf-ipcountry': 'FR' };
const active = async (token: string) => (await postForm(`${latch.url}/introspect`, { token }, ['api-a', SECRETS.apiA])).json!.active;

/** Moves the account's latest login back in time (the tests cannot wait hours). */
async function backdateLastLogin(minutes: number) {
  const key = latch.store.keys.accountLogins('sub-alice');
  const last = JSON.parse((await redis.client.lindex(key, 0))!);
  last.at -= minutes * 60_000;
  await redis.client.lset(key, 0, JSON.stringify(last));
}

const login = (instance: TestLatch, headers: Record<string, string>) =>
  webClient(instance.url).then((client) => logIn(instance.url, client, { loginHeaders: headers }));

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  proxied = await startLatch(redis.url, { trustedProxies: 1 });
  admin = await adminToken(latch.url);
  subscriber = new Redis(redis.url);
  await subscriber.subscribe('latch:events');
  subscriber.on('message', (_c, body) => events.push(JSON.parse(body)));
});
beforeEach(async () => {
  await redis.client.del(latch.store.keys.accountLogins('sub-alice'));
});
afterAll(async () => {
  subscriber.disconnect();
  await proxied.close();
  await latch.close();
  await redis.close();
});

describe('impossible travel', () => {
  it('London then Tokyo five minutes later: revokes London, refuses Tokyo in plain words, records event and audit', async () => {
    const london = await login(latch, LONDON);
    expect(await active(london.tokens.access_token)).toBe(true);
    await backdateLastLogin(5);

    await expect(login(latch, TOKYO)).rejects.toThrow(/login step failed with 403: [\s\S]*We stopped this sign-in: your account was used in London, GB 5 minutes ago, 95\d\d km from here \(Tokyo, JP\)/);
    expect(await active(london.tokens.access_token)).toBe(false);

    const event = events.find((e) => e.type === 'security' && e.kind === 'impossible_travel');
    expect(event).toMatchObject({
      v: 1, type: 'security', kind: 'impossible_travel', action: 'revoke', sub: 'sub-alice', actor: 'latch',
      from: { place: 'London, GB', latitude: 51.5074, longitude: -0.1278 },
      to: { place: 'Tokyo, JP', latitude: 35.6762, longitude: 139.6503 },
      distance_km: expect.any(Number), hours: expect.any(Number), speed_kmh: expect.any(Number),
    });
    expect(event!.distance_km).toBeGreaterThan(9500);
    expect(event!.distance_km).toBeLessThan(9600);
    expect(event!.speed_kmh).toBeGreaterThan(100_000);
    expect(events.some((e) => e.type === 'revocation' && e.scope === 'account' && e.actor === 'latch')).toBe(true);

    const { json } = await adminCall(latch.url, 'GET', '/admin/audit?limit=1000', admin);
    const entry = (json!.entries as Array<Record<string, unknown>>).find((e) => e.action === 'impossible-travel');
    expect(entry).toMatchObject({ actor: 'latch', target: 'account:alice', reason: expect.stringMatching(/^London, GB → Tokyo, JP: 95\d\d km in 5 minutes \(\d+ km\/h\)$/) });
    expect(entry!.count).toBeGreaterThan(0);

    const logins = await adminCall(latch.url, 'GET', '/admin/accounts/alice/logins', admin);
    expect((logins.json!.logins as Array<Record<string, unknown>>).map((l) => [l.place, l.outcome])).toEqual([
      ['Tokyo, JP', 'revoke'],
      ['London, GB', 'accepted'],
    ]);
  });

  it('a login refused for impossible travel sets no known-device cookie and keeps the failure counter', async () => {
    await login(proxied, { 'x-forwarded-for': '81.2.69.20' });
    await backdateLastLogin(5);
    const tokyo = { 'x-forwarded-for': '1.0.16.20' };
    const browser = new BrowserSession();
    const client = await webClient(proxied.url);
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    let page = await browser.follow(url.href, proxied.url);
    for (let i = 0; i < 2; i++) {
      const failed = await browser.submit(page.url, page.html!, '/login', { username: ALICE.username, password: 'wrong-password' }, tokyo);
      expect(failed.status).toBe(401);
      page = { url: page.url, html: await failed.text() };
    }
    const refused = await browser.submit(page.url, page.html!, '/login', { username: ALICE.username, password: ALICE.password }, tokyo);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('We stopped this sign-in');
    expect(refused.headers.getSetCookie().filter((c) => c.startsWith('latch.device'))).toEqual([]);
    expect(browser.cookies.has('latch.device')).toBe(false);
    // The two failures still count: the right password did not wipe them.
    expect(await redis.client.hget(proxied.store.keys.loginFailures('alice', '1.0.16.20'), 'n')).toBe('2');
    await redis.client.del(proxied.store.keys.loginFailures('alice', '1.0.16.20'), proxied.store.keys.loginFailures('alice'));
  });

  it('London then Paris three hours later: allowed', async () => {
    await login(latch, LONDON);
    await backdateLastLogin(180);
    const paris = await login(latch, PARIS);
    expect(await active(paris.tokens.access_token)).toBe(true);
  });

  it('ignores a spoofed X-Forwarded-For when no proxy is trusted', async () => {
    await login(latch, { 'x-forwarded-for': '81.2.69.10' });
    await backdateLastLogin(5);
    const second = await login(latch, { 'x-forwarded-for': '1.0.16.10' });
    expect(await active(second.tokens.access_token)).toBe(true);
    const { json } = await adminCall(latch.url, 'GET', '/admin/accounts/alice/logins', admin);
    expect((json!.logins as Array<Record<string, unknown>>)[0]).toMatchObject({ ip: '127.0.0.1', source: 'none', outcome: 'accepted' });
  });

  it('honours X-Forwarded-For from a trusted proxy and locates the address by network', async () => {
    await login(proxied, { 'x-forwarded-for': '81.2.69.10' });
    await backdateLastLogin(5);
    await expect(login(proxied, { 'x-forwarded-for': '1.0.16.10' })).rejects.toThrow(/login step failed with 403/);
    const { json } = await adminCall(latch.url, 'GET', '/admin/accounts/alice/logins', admin);
    expect((json!.logins as Array<Record<string, unknown>>).slice(0, 2)).toMatchObject([
      { ip: '1.0.16.10', place: 'Tokyo, JP', source: 'network', outcome: 'revoke' },
      { ip: '81.2.69.10', place: 'London, GB', source: 'network', outcome: 'accepted' },
    ]);
  });
});

describe('the travel guard actions', () => {
  const london = { ip: '81.2.69.1', latitude: 51.5074, longitude: -0.1278, place: 'London, GB', source: 'network' as const };
  const tokyo = { ip: '1.0.16.1', latitude: 35.6762, longitude: 139.6503, place: 'Tokyo, JP', source: 'network' as const };
  const t0 = Date.now() - 3_600_000;

  it.each(['deny', 'alert'] as const)('%s: reports the travel without revoking anything itself', async (action) => {
    const guard = new TravelGuard(latch.store, { action, maxSpeedKmh: 900, minDistanceKm: 500 });
    const sub = `guard-${action}`;
    expect(await guard.check(sub, london, t0)).toEqual({ action: 'allow' });
    const verdict = await guard.check(sub, tokyo, t0 + 5 * 60_000);
    expect(verdict).toMatchObject({ action, travel: { distanceKm: expect.any(Number), speedKmh: expect.any(Number) } });
  });

  it('never triggers on private or unknown addresses, and records them', async () => {
    const guard = new TravelGuard(latch.store, { action: 'deny', maxSpeedKmh: 900, minDistanceKm: 500 });
    await guard.check('guard-private', london, t0);
    expect(await guard.check('guard-private', { ip: '10.1.2.3', source: 'none' }, t0 + 60_000)).toEqual({ action: 'allow' });
    expect((await guard.history('guard-private'))[0]).toMatchObject({ ip: '10.1.2.3', outcome: 'accepted' });
  });

  it('does not trigger under the minimum distance, whatever the speed', async () => {
    const guard = new TravelGuard(latch.store, { action: 'deny', maxSpeedKmh: 900, minDistanceKm: 500 });
    await guard.check('guard-near', london, t0);
    const oxford = { ip: '81.2.70.1', latitude: 51.752, longitude: -1.2577, place: 'Oxford, GB', source: 'network' as const };
    expect(await guard.check('guard-near', oxford, t0 + 60_000)).toEqual({ action: 'allow' });
  });
});
