import * as oidc from 'openid-client';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { ALICE, REDIRECT_URI, testFileConfig } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;

/** One attempt at the login form from `ip` (X-Forwarded-For through one trusted proxy). */
async function attempt(password: string, ip: string, browser = new BrowserSession(), username = ALICE.username) {
  const client = await webClient(latch.url);
  const url = oidc.buildAuthorizationUrl(client, {
    redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  const page = await browser.follow(url.href, latch.url);
  const response = await browser.submit(page.url, page.html!, '/login', { username, password }, { 'x-forwarded-for': ip });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), html: await response.text() };
}

async function backdate(key: string, ms: number) {
  const last = Number(await redis.client.hget(key, 'last'));
  await redis.client.hset(key, 'last', String(last - ms));
}

beforeAll(async () => {
  redis = await startRedis();
  const file = { ...testFileConfig(), loginThrottle: { perAddress: 3, perAccount: 6, windowSeconds: 900 } };
  latch = await startLatch(redis.url, { file, trustedProxies: 1 });
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('login brute-force protection', () => {
  it('slows down one address after repeated failures, even for the right password, then lets it try again', async () => {
    for (let i = 0; i < 3; i++) expect((await attempt('wrong-password', '81.2.69.1')).status).toBe(401);
    const blocked = await attempt(ALICE.password, '81.2.69.1');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(blocked.html).toContain('Too many failed sign-in attempts. Try again in');
    // Another address is not slowed down by this one.
    expect((await attempt(ALICE.password, '81.2.69.2')).status).toBe(303);
    // Once the wait is over, the right password works and clears the counter.
    await backdate(latch.store.keys.loginFailures('alice', '81.2.69.1'), 60_000);
    expect((await attempt(ALICE.password, '81.2.69.1')).status).toBe(303);
    await redis.client.del(latch.store.keys.loginFailures('alice'));
  });

  it('counts the addresses of one IPv6 /64 as one, like the rate limits: rotating addresses inside it does not escape the wait', async () => {
    for (const ip of ['2001:db8:5:5::1', '2001:db8:5:5::2', '2001:db8:5:5:ffff:ffff:ffff:3']) expect((await attempt('wrong-password', ip)).status).toBe(401);
    const rotated = await attempt(ALICE.password, '2001:db8:5:5:1234::9');
    expect(rotated.status).toBe(429);
    expect(rotated.html).toContain('Too many failed sign-in attempts. Try again in');
    // Another /64 is another subscriber.
    expect((await attempt(ALICE.password, '2001:db8:5:6::1')).status).toBe(303);
    await redis.client.del(latch.store.keys.loginFailures('alice'), latch.store.keys.loginFailures('alice', '2001:db8:5:5::/64'));
  });

  it('locks the account for unknown browsers after failures from many addresses, but not the user’s own devices', async () => {
    const own = new BrowserSession();
    expect((await attempt(ALICE.password, '81.2.69.10', own)).status).toBe(303);
    for (const ip of ['1.0.16.1', '1.0.16.2']) {
      for (let i = 0; i < 3; i++) expect((await attempt('wrong-password', ip)).status).toBe(401);
    }
    const stranger = await attempt(ALICE.password, '2.2.2.2');
    expect(stranger.status).toBe(429);
    expect(Number(stranger.retryAfter)).toBeGreaterThan(800);
    // The attacker cannot lock Alice out of the browser she already uses.
    expect((await attempt(ALICE.password, '81.2.69.10', own)).status).toBe(303);
    // The lock ends with the window.
    await backdate(latch.store.keys.loginFailures('alice'), 900_000);
    expect((await attempt(ALICE.password, '2.2.2.2')).status).toBe(303);
  });

  it('binds each known-device cookie to the browser it was issued to: no value common to every browser of a user', async () => {
    const first = new BrowserSession();
    const second = new BrowserSession();
    expect((await attempt(ALICE.password, '81.2.69.30', first)).status).toBe(303);
    expect((await attempt(ALICE.password, '81.2.69.31', second)).status).toBe(303);
    const [a, b] = [first.cookies.get('latch.device'), second.cookies.get('latch.device')];
    expect(a).toEqual(expect.stringMatching(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/));
    expect(b).toEqual(expect.stringMatching(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/));
    expect(a!.split('.')[1]).not.toBe(b!.split('.')[1]);
    // A second user on the same browser adds a tag under the same browser id.
    await redis.client.del(latch.store.keys.loginFailures('bob'));
    expect((await attempt('bob-password-12', '81.2.69.30', first, 'bob')).status).toBe(303);
    const both = first.cookies.get('latch.device')!.split('.');
    expect(both).toHaveLength(3);
    expect(both[0]).toBe(a!.split('.')[0]);
  });

  it('throttles unknown usernames exactly like known ones (no enumeration)', async () => {
    const answers: Array<[number, string]> = [];
    for (const username of ['nobody', 'bob']) {
      for (let i = 0; i < 3; i++) expect((await attempt('wrong-password', '81.2.69.77', undefined, username)).status).toBe(401);
      const blocked = await attempt('wrong-password', '81.2.69.77', undefined, username);
      answers.push([blocked.status, /<p class="error"[^>]*>([^<]*)</.exec(blocked.html)![1]!.replace(/\d+ seconds?/, 'N seconds')]);
    }
    expect(answers[0]).toEqual([429, 'Too many failed sign-in attempts. Try again in N seconds.']);
    expect(answers[1]).toEqual(answers[0]);
  });
});
