import * as oidc from 'openid-client';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { ALICE, REDIRECT_URI, SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;
/** Every secret value the flow below handles. */
const secrets: Record<string, string> = {};

async function dumpRedis(): Promise<string[]> {
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
      if (type === 'zset') out.push(JSON.stringify(await redis.client.zrange(key, '0', '-1', 'WITHSCORES')));
      if (type === 'set') out.push(JSON.stringify(await redis.client.smembers(key)));
      if (type === 'list') out.push(JSON.stringify(await redis.client.lrange(key, '0', '-1')));
      if (type === 'stream') out.push(JSON.stringify(await redis.client.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return out;
}

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  const client = await webClient(latch.url);
  const { tokens, browser, callbackUrl } = await logIn(latch.url, client);
  const refreshed = await oidc.refreshTokenGrant(client, tokens.refresh_token!);
  const service = await oidc.clientCredentialsGrant(await clientFor(latch.url, 'svc', SECRETS.svc), { scope: 'a:read' });
  await postForm(`${latch.url}/introspect`, { token: refreshed.access_token }, ['api-a', SECRETS.apiA]);
  await postForm(`${latch.url}/introspect`, { token: 'garbage' }, ['api-a', 'wrong-secret']);
  await postForm(`${latch.url}/revoke`, { token: tokens.access_token }, ['web', SECRETS.web]);
  Object.assign(secrets, {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token!,
    rotated_access_token: refreshed.access_token,
    rotated_refresh_token: refreshed.refresh_token!,
    id_token: tokens.id_token!,
    service_token: service.access_token,
    code: new URL(callbackUrl).searchParams.get('code')!,
    password: ALICE.password,
    web_secret: SECRETS.web,
    api_secret: SECRETS.apiA,
  });
  for (const [name, value] of browser.cookies) {
    // Cookie values are session and interaction ids; the signatures (.sig) are not secrets.
    if (!name.endsWith('.sig')) secrets[`cookie ${name}`] = value;
  }
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('secrets hygiene', () => {
  it('stores no token, code, session id, password or client secret in clear anywhere in Redis', async () => {
    const dump = (await dumpRedis()).join('\n');
    expect(dump.length).toBeGreaterThan(1000);
    expect(Object.keys(secrets).filter((k) => k.startsWith('cookie'))).not.toHaveLength(0);
    for (const [name, value] of Object.entries(secrets)) {
      expect({ name, found: dump.includes(value) }).toEqual({ name, found: false });
    }
  });

  it('stores no browser session id or interaction id in clear while a consent page is pending', async () => {
    const client = await webClient(latch.url);
    const browser = new BrowserSession();
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: REDIRECT_URI, scope: 'openid a:read', prompt: 'consent', state: 'pending-consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const page = await browser.follow(url.href, latch.url);
    const login = await browser.submit(page.url, page.html!, '/login', { username: ALICE.username, password: ALICE.password });
    const consent = await browser.follow(new URL(login.headers.get('location')!, page.url).href, latch.url);
    expect(consent.html).toContain('/confirm"');
    const pending = Object.fromEntries([...browser.cookies].filter(([name]) => !name.endsWith('.sig')));
    expect(Object.keys(pending)).toEqual(expect.arrayContaining(['_session', '_interaction', '_interaction_resume']));
    const dump = (await dumpRedis()).join('\n');
    expect(dump).toContain('pending-consent');
    for (const [name, value] of Object.entries(pending)) {
      expect({ name, found: dump.includes(value) }).toEqual({ name, found: false });
    }
    // The consent page still works: the sealed ids open again.
    const confirmed = await browser.submit(consent.url, consent.html!, '/confirm');
    const done = await browser.follow(new URL(confirmed.headers.get('location')!, consent.url).href, latch.url);
    expect(new URL(done.url).searchParams.get('state')).toBe('pending-consent');
    expect(new URL(done.url).searchParams.get('code')).toEqual(expect.any(String));
  });

  it('writes no token, code, secret, password, cookie or Authorization header to the logs', () => {
    const logs = latch.logs.join('');
    expect(latch.logs.length).toBeGreaterThan(10);
    for (const [name, value] of Object.entries(secrets)) {
      expect({ name, found: logs.includes(value) }).toEqual({ name, found: false });
    }
    expect(logs).not.toMatch(/authorization|Basic [A-Za-z0-9+/=]{10,}/i);
  });
});
