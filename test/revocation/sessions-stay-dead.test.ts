import { request } from 'node:http';
import * as oidc from 'openid-client';
import { adminCall, adminToken, jobDone } from '../support/admin.js';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, webClient } from '../support/oauth.js';
import { backends, type TestBackend } from '../support/redis-backends.js';
import { REDIRECT_URI, testFileConfig } from '../support/test-config.js';

/**
 * Issue 11 §1 and §4. oidc-provider loads the browser session when a request starts and saves it
 * again in a `finally`, even when the request fails. A request that holds a logged-in session and
 * finishes after a revocation deleted that session must not bring it back: afterwards the cookie
 * reaches the login page, and no token is issued without the password.
 */
describe.each(backends)('on %s', (_backend, startBackend) => {
let redis: TestBackend;
let latch: TestLatch;
let admin: string;

const USERS = ['u-revoke', 'u-disable', 'u-devices-all', 'u-devices-end', 'u-admin-session', 'u-logout', 'u-end-only', 'u-admin-only'];
const PASSWORD = 'correct-horse-battery';

beforeAll(async () => {
  redis = await startBackend();
  const base = testFileConfig();
  const file = { ...base, accounts: [...base.accounts, ...USERS.map((username) => ({ sub: `sub-${username}`, username, password: PASSWORD, roles: [] }))] };
  latch = await startLatch(redis.target, { file });
  admin = await adminToken(latch.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

function cookieHeader(browser: BrowserSession): string {
  return [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
}

/**
 * `POST /session/end/confirm` with the session cookie whose body arrives slowly: oidc-provider
 * loads the session at once, then waits for the rest of the body. `finish()` sends it.
 */
async function slowRequestHolding(browser: BrowserSession): Promise<{ finish(): Promise<number> }> {
  const body = 'xsrf=not-the-right-one&logout=yes';
  const req = request(`${latch.url}/session/end/confirm`, {
    method: 'POST',
    headers: { cookie: cookieHeader(browser), 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
  });
  const answered = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
  });
  req.write(body.slice(0, 4));
  // The session is read right after the headers; give the server time to get there.
  await new Promise((r) => setTimeout(r, 400));
  return {
    finish() {
      req.end(body.slice(4));
      return answered;
    },
  };
}

/** A new authorization request from `browser`: which page does Latch show? */
async function nextAuthorization(browser: BrowserSession): Promise<'login' | 'consent' | 'code'> {
  const client = await webClient(latch.url);
  const url = oidc.buildAuthorizationUrl(client, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid a:read',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const step = await browser.follow(url.href, latch.url);
  if (step.url.startsWith(REDIRECT_URI)) return 'code';
  if (step.html?.includes('/login"')) return 'login';
  if (step.html?.includes('/confirm"')) return 'consent';
  throw new Error(`unexpected page at ${step.url}: ${step.html?.slice(0, 300)}`);
}

/** `prompt=none`: is the browser still signed in, without any page? */
async function silentlySignedIn(browser: BrowserSession): Promise<boolean> {
  const client = await webClient(latch.url);
  const url = oidc.buildAuthorizationUrl(client, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid a:read',
    prompt: 'none',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const step = await browser.follow(url.href, latch.url);
  const error = new URL(step.url).searchParams.get('error');
  return error !== 'login_required';
}

async function devicesPage(browser: BrowserSession) {
  const page = await browser.follow(`${latch.url}/account/devices`, latch.url);
  if (!page.html?.includes('Log out of all devices')) throw new Error(`no devices page: ${page.html?.slice(0, 300)}`);
  return page as { url: string; html: string };
}

async function deviceId(username: string): Promise<string> {
  const { json } = await adminCall(latch.url, 'GET', `/admin/accounts/${username}/sessions`, admin);
  const sessions = json!.sessions as Array<{ id: string; client_id: string }>;
  return sessions.find((s) => s.client_id === 'web')!.id;
}

async function drained(sub: string): Promise<void> {
  const key = latch.store.keys.accountSessions(sub);
  for (let i = 0; i < 200; i++) {
    const members = await redis.client.zrange(key, '0', '-1');
    const alive = await Promise.all(members.map(async (m) => (await redis.client.get(m))?.split('\x1f').length === 7));
    if (!alive.some(Boolean)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the sessions were not cleaned up');
}

type Revocation = (username: string, browser: BrowserSession) => Promise<void>;

const revocations: Array<[string, Revocation]> = [
  [
    'admin revoke-user (log out of all devices)',
    async (username) => {
      const { json } = await adminCall(latch.url, 'POST', `/admin/accounts/${username}/revoke`, admin, { reason: 'stolen laptop' });
      await jobDone(latch.url, admin, json!.job as string);
    },
  ],
  [
    'disable, then enable again',
    async (username) => {
      const { json } = await adminCall(latch.url, 'POST', `/admin/accounts/${username}/disable`, admin, { reason: 'investigation' });
      await jobDone(latch.url, admin, json!.job as string);
      await adminCall(latch.url, 'POST', `/admin/accounts/${username}/enable`, admin, { reason: 'cleared' });
    },
  ],
  [
    'the devices page: Log out of all devices',
    async (username, browser) => {
      const page = await devicesPage(browser);
      const response = await browser.submit(page.url, page.html, '/logout-all');
      expect(response.status).toBe(200);
      await drained(`sub-${username}`);
    },
  ],
  [
    'the devices page: End on the web app row',
    async (_username, browser) => {
      const page = await devicesPage(browser);
      const row = [...page.html.matchAll(/<tr>[\s\S]*?<\/tr>/g)].map((m) => m[0]).find((r) => r.includes('Web App'))!;
      const action = /action="([^"]+\/end)"/.exec(row)![1]!;
      const response = await browser.submit(page.url, row.replace(/^<tr>/, `<form action="${action}">`).replace(/<\/tr>$/, '</form>'), '/end');
      expect(response.status).toBe(303);
    },
  ],
  [
    'admin revoke-session',
    async (username) => {
      const id = await deviceId(username);
      const { status } = await adminCall(latch.url, 'POST', `/admin/accounts/${username}/sessions/${id}/revoke`, admin, { reason: 'unknown device' });
      expect(status).toBe(200);
    },
  ],
  [
    'a plain logout (RP-initiated, "sign out of Latch")',
    async (_username, browser) => {
      const page = await browser.follow(`${latch.url}/session/end?client_id=web`, latch.url);
      const response = await browser.submit(page.url, page.html!, '/session/end/confirm', { logout: 'yes' });
      expect(response.status).toBe(303);
    },
  ],
];

describe('a slow request holding a logged-in session spans a revocation', () => {
  it.each(revocations.map(([name, revoke], i) => [name, USERS[i]!, revoke] as const))(
    'after %s, the cookie reaches the login page and gets no token without the password',
    async (_name, username, revoke) => {
      const client = await webClient(latch.url);
      const { browser } = await logIn(latch.url, client, { username, password: PASSWORD });
      // The attacker's copy of the cookie, in a request that finishes late.
      const stolen = new Map(browser.cookies);
      const slow = await slowRequestHolding(browser);

      await revoke(username, browser);
      await slow.finish();

      const attacker = new BrowserSession();
      for (const [name, value] of stolen) attacker.cookies.set(name, value);
      expect(await silentlySignedIn(attacker)).toBe(false);
      expect(await nextAuthorization(attacker)).toBe('login');
    },
  );
});

describe('ending one device ends it (issue 11 §4)', () => {
  it('End on the devices page also signs that browser out: it cannot re-authorize without the password', async () => {
    const client = await webClient(latch.url);
    const { browser } = await logIn(latch.url, client, { username: 'u-end-only', password: PASSWORD });
    const page = await devicesPage(browser);
    const row = [...page.html.matchAll(/<tr>[\s\S]*?<\/tr>/g)].map((m) => m[0]).find((r) => r.includes('Web App'))!;
    const action = /action="([^"]+\/end)"/.exec(row)![1]!;
    await browser.submit(page.url, row.replace(/^<tr>/, `<form action="${action}">`).replace(/<\/tr>$/, '</form>'), '/end');
    expect(await silentlySignedIn(browser)).toBe(false);
    expect(await nextAuthorization(browser)).toBe('login');
  });

  it('admin revoke-session signs that browser out as well', async () => {
    const client = await webClient(latch.url);
    const { browser } = await logIn(latch.url, client, { username: 'u-admin-only', password: PASSWORD });
    const id = await deviceId('u-admin-only');
    const { status } = await adminCall(latch.url, 'POST', `/admin/accounts/u-admin-only/sessions/${id}/revoke`, admin, { reason: 'lost phone' });
    expect(status).toBe(200);
    expect(await silentlySignedIn(browser)).toBe(false);
    expect(await nextAuthorization(browser)).toBe('login');
  });
});
});
