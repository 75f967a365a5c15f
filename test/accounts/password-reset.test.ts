import * as oidc from 'openid-client';
import type { PasswordLinkMessage } from '../../src/credentials/mail-sender.js';
import { adminCall, adminToken } from '../support/admin.js';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { REDIRECT_URI, SECRETS } from '../support/test-config.js';

/**
 * Reset links security staff generate, and the password change a login must make when an admin
 * requires one: through Latch's real pages over HTTP, against a real Redis.
 */
let redis: TestRedis;
let latch: TestLatch;
let admin: string;
const sent: PasswordLinkMessage[] = [];
let mailing: TestLatch;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  // A second instance with a mail sender plugged in (the interface is the plug-in point).
  mailing = await startLatch(redis.url, { config: latch.config, mailSender: { send: async (message) => (sent.push(message), true) } });
  admin = await adminToken(latch.url);
});
afterAll(async () => {
  await mailing.close();
  await latch.close();
  await redis.close();
});

const call = (method: string, path: string, body?: unknown) => adminCall(latch.url, method, path, admin, body);
const introspect = async (token: string) => (await postForm(`${latch.url}/introspect`, { token }, ['api-a', SECRETS.apiA])).json;
const signIn = async (username: string, password: string) => (await logIn(latch.url, await webClient(latch.url), { username, password })).tokens;
const lastEventId = async () => (await redis.client.xrevrange('latch:events:stream', '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
const eventsSince = async (since: string) =>
  (await redis.client.xrange('latch:events:stream', `(${since}`, '+')).map(([, f]) => JSON.parse(f[1]!) as Record<string, unknown>);

async function resetLink(username: string, body: Record<string, unknown> = {}): Promise<string> {
  const { status, json } = await call('POST', `/admin/accounts/${username}/reset-link`, { reason: 'forgot password', ...body });
  expect(status).toBe(200);
  return json!.link as string;
}

/** Opens a reset link in a browser and submits its form. */
async function useLink(link: string, password: string, confirm = password) {
  const browser = new BrowserSession();
  const page = await browser.request(link);
  const html = await page.text();
  if (page.status !== 200) return { status: page.status, html };
  const response = await browser.submit(link, html, '/account/reset', { password, confirm });
  return { status: response.status, html: await response.text() };
}

/** Every key and value in Redis, as text (strings, hashes, lists, sets, zsets, streams). */
async function everything(): Promise<string> {
  const keys = await redis.client.keys('*');
  const parts = await Promise.all(keys.map(async (key) => {
    const type = await redis.client.type(key);
    const value = type === 'string' ? await redis.client.get(key)
      : type === 'hash' ? JSON.stringify(await redis.client.hgetall(key))
      : type === 'list' ? JSON.stringify(await redis.client.lrange(key, 0, -1))
      : type === 'zset' ? JSON.stringify(await redis.client.zrange(key, '0', '-1'))
      : type === 'stream' ? JSON.stringify(await redis.client.xrange(key, '-', '+'))
      : '';
    return `${key} ${value}`;
  }));
  return parts.join('\n');
}

describe('reset links', () => {
  it('sets a new password once, ends every session and token, publishes and audits it, and is stored only hashed', async () => {
    const before = await signIn('alice', 'alice-password-1');
    const link = await resetLink('alice');
    const secret = link.slice(-43);
    expect(await everything()).not.toContain(secret);
    expect(await redis.client.hget(latch.store.keys.account('sub-alice'), 'reset')).toMatch(/^[A-Za-z0-9_-]{22} \d{13}$/);

    const common = await useLink(link, 'iloveyou1', 'iloveyou1');
    expect(common.status).toBe(400);
    expect(common.html).toContain('The password is one of the most common passwords, the first an attacker tries: choose another.');
    expect((await useLink(link, 'a fresh start here', 'a fresh start HERE')).html).toContain('The two passwords are not the same.');

    const since = await lastEventId();
    const done = await useLink(link, 'a fresh start here');
    expect(done.status).toBe(200);
    expect(done.html).toContain('Password set');
    expect(await introspect(before.access_token)).toEqual({ active: false });
    const events = await eventsSince(since);
    expect(events).toContainEqual(expect.objectContaining({ type: 'revocation', scope: 'account', sub: 'sub-alice', actor: 'user', reason: 'password set with a reset link' }));
    expect(events).toContainEqual(expect.objectContaining({ type: 'security', kind: 'credential_change', sub: 'sub-alice', change_type: 'update', actor: 'user' }));
    const audit = (await call('GET', '/admin/audit?limit=1000')).json!.entries as Array<Record<string, unknown>>;
    expect(audit.at(-1)).toMatchObject({ actor: 'user', action: 'reset-password', target: 'account:alice' });

    const reused = await useLink(link, 'yet another password');
    expect(reused.status).toBe(400);
    expect(reused.html).toContain('This password link is not valid any more');
    await expect(signIn('alice', 'alice-password-1')).rejects.toThrow(/login step failed with 401/);
    expect(await introspect((await signIn('alice', 'a fresh start here')).access_token)).toMatchObject({ active: true });
    // The request log masks the token in the path; nothing else logs it.
    expect(latch.logs.join('')).not.toContain(secret);
    expect(latch.logs.join('')).toContain('"path":"/account/reset/:id"');
  });

  it('is replaced by a newer link, and ended by any password change', async () => {
    const older = await resetLink('bob');
    const newer = await resetLink('bob');
    expect((await useLink(older, 'bob has a new one')).status).toBe(400);
    await call('PUT', '/admin/accounts/bob/password', { password: 'set by the helpdesk', reason: 'phone call' });
    expect((await useLink(newer, 'bob has a new one')).status).toBe(400);
    await expect(signIn('bob', 'set by the helpdesk')).resolves.toBeDefined();
  });

  it('expires (its expiry is on Redis’s clock, in the account hash)', async () => {
    const link = await resetLink('bob');
    const key = latch.store.keys.account('sub-bob');
    const [hash] = (await redis.client.hget(key, 'reset'))!.split(' ');
    await redis.client.hset(key, 'reset', `${hash} ${Date.now() - 1}`);
    const expired = await useLink(link, 'too late for this');
    expect(expired.status).toBe(400);
    expect(expired.html).toContain('it was used, it expired, or a newer one replaced it');
  });

  it('refuses malformed and unknown tokens with the same page', async () => {
    for (const path of ['/account/reset/' + 'A'.repeat(65), '/account/reset/' + 'A'.repeat(22) + 'B'.repeat(43)]) {
      const response = await new BrowserSession().request(`${latch.url}${path}`);
      expect(response.status).toBe(400);
      expect(await response.text()).toContain('This password link is not valid any more');
    }
    expect((await new BrowserSession().request(`${latch.url}/account/reset/short`)).status).toBe(404);
  });

  it('with revoke_password, kills the current password and every token at once (credential_change revoke), then sets up a new one', async () => {
    await call('POST', '/admin/accounts', { username: 'grace', sub: 'sub-grace', password: 'grace old secret', reason: 'x' });
    const tokens = await signIn('grace', 'grace old secret');
    const since = await lastEventId();
    const { json } = await call('POST', '/admin/accounts/grace/reset-link', { revoke_password: true, reason: 'password seen in a paste' });
    expect(json).toMatchObject({ link: expect.any(String), delivered: false, revoked: { epoch: expect.any(Number), audit_id: expect.any(String) } });
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
    await expect(signIn('grace', 'grace old secret')).rejects.toThrow(/login step failed with 401/);
    expect(await eventsSince(since)).toContainEqual(expect.objectContaining({ kind: 'credential_change', sub: 'sub-grace', change_type: 'revoke', reason: 'password seen in a paste' }));
    const page = await useLink(json!.link as string, 'grace new secret');
    expect(page.html).toContain('Your password is set.');
    expect(await introspect((await signIn('grace', 'grace new secret')).access_token)).toMatchObject({ active: true });
  });

  it('goes to a plugged-in mail sender, and then not to the admin caller', async () => {
    const token = await adminToken(mailing.url);
    const { status, json } = await adminCall(mailing.url, 'POST', '/admin/accounts/bob/reset-link', token, { reason: 'self-service desk' });
    expect(status).toBe(200);
    expect(json).toEqual({ expires_at: expect.any(Number), delivered: true, audit_id: expect.any(String) });
    expect(sent).toEqual([{ kind: 'reset', sub: 'sub-bob', username: 'bob', email: undefined, link: expect.stringMatching(/\/account\/reset\/[A-Za-z0-9_-]{65}$/), expiresAt: json!.expires_at }]);
    expect((await useLink(sent[0]!.link, 'mailed to bob today')).status).toBe(200);
  });
});

describe('a password change required at the next login', () => {
  /** Starts a code flow for `web` in `browser` and submits the login form. */
  async function login(browser: BrowserSession, username: string, password: string) {
    const client = await webClient(latch.url);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: REDIRECT_URI, scope: 'openid a:read', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 'st', prompt: 'consent',
    });
    const step = await browser.follow(url.href, latch.url);
    const response = await browser.submit(step.url, step.html!, '/login', { username, password });
    return { client, verifier, pageUrl: step.url, response };
  }

  it('asks for a new password (policy applied) before the login finishes, then signs in and clears the flag', async () => {
    await call('POST', '/admin/accounts', { username: 'heidi', sub: 'sub-heidi', password: 'temporary heidi 1', password_change_required: true, reason: 'onboarding' });
    const elsewhere = await call('POST', '/admin/accounts/heidi/require-password-change', { reason: 'x' });
    expect(elsewhere.status).toBe(200);
    const browser = new BrowserSession();
    const { client, verifier, pageUrl, response } = await login(browser, 'heidi', 'temporary heidi 1');
    expect(response.status).toBe(200);
    const page = await response.text();
    expect(page).toContain('Choose a new password');
    expect(page).toMatch(/action="\/interaction\/[^"]+\/password"/);

    const weak = await browser.submit(pageUrl, page, '/password', { password: 'heidi', confirm: 'heidi' });
    expect(weak.status).toBe(400);
    const weakPage = await weak.text();
    expect(weakPage).toContain('The new password must be at least 8 characters long.');

    const ok = await browser.submit(pageUrl, weakPage, '/password', { password: 'heidi chose this', confirm: 'heidi chose this' });
    expect(ok.status).toBe(303);
    let step = await browser.follow(new URL(ok.headers.get('location')!, pageUrl).href, latch.url);
    const consent = await browser.submit(step.url, step.html!, '/confirm');
    step = await browser.follow(new URL(consent.headers.get('location')!, step.url).href, latch.url);
    expect(step.url.startsWith(REDIRECT_URI)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(client, new URL(step.url), { pkceCodeVerifier: verifier, expectedState: 'st' });
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, sub: 'sub-heidi' });
    expect((await call('GET', '/admin/accounts/heidi')).json).toMatchObject({ password_change_required: false });
    await expect(signIn('heidi', 'heidi chose this')).resolves.toBeDefined();
  });

  it('cannot be skipped: the login does not finish with the old password, and the step’s ticket is single-use and bound to its sign-in', async () => {
    await call('POST', '/admin/accounts', { username: 'ivan', sub: 'sub-ivan', password: 'temporary ivan 1', password_change_required: true, reason: 'x' });
    const browser = new BrowserSession();
    const { pageUrl, response } = await login(browser, 'ivan', 'temporary ivan 1');
    const page = await response.text();
    // Resuming the authorization without the new password gets no code: the login was never finished.
    const resume = await browser.follow(pageUrl.replace('/interaction/', '/auth/'), latch.url);
    expect(resume.url.startsWith(REDIRECT_URI)).toBe(false);

    // The ticket of this sign-in, replayed into another sign-in of the same browser, is refused.
    const other = await login(browser, 'ivan', 'temporary ivan 1');
    const otherPage = await other.response.text();
    const ticket = /name="ticket" value="([^"]+)"/.exec(page)![1]!;
    const replay = await browser.submit(other.pageUrl, otherPage, '/password', { ticket, password: 'ivan picked one', confirm: 'ivan picked one' });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('That step took too long or was already done. Sign in again.');
    expect((await call('GET', '/admin/accounts/ivan')).json).toMatchObject({ password_change_required: true });
  });
});
