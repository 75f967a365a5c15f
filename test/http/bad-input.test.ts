import * as oidc from 'openid-client';
import { adminCall, adminToken } from '../support/admin.js';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { ALICE, REDIRECT_URI } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;
let admin: string;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  admin = await adminToken(latch.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

/** A browser on Latch's login page for a fresh authorization request. */
async function loginPage(browser = new BrowserSession()) {
  const client = await webClient(latch.url);
  const url = oidc.buildAuthorizationUrl(client, {
    redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  const page = await browser.follow(url.href, latch.url);
  expect(page.html).toContain('/login"');
  return { browser, page: page as { url: string; html: string } };
}

const csrfOf = (html: string) => /name="csrf" value="([^"]*)"/.exec(html)![1]!.replace(/&amp;/g, '&');

describe('CSRF tokens', () => {
  it('answers 403 access_denied, not 500, to a CSRF field of the right length in multibyte characters', async () => {
    const { browser, page } = await loginPage();
    const multibyte = 'é'.repeat(csrfOf(page.html).length);
    const response = await browser.submit(page.url, page.html, '/login', { csrf: multibyte, username: ALICE.username, password: ALICE.password });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('the form expired or did not come from this site');
  });

  it('are bound to the browser session they were issued to: a cookie and token from another browser are refused', async () => {
    const attacker = await loginPage();
    const victim = await loginPage();
    // Cookie injection: the attacker plants their own (validly signed) CSRF cookie in the victim's
    // browser and submits the token that goes with it.
    for (const name of ['latch.csrf', 'latch.csrf.sig']) victim.browser.cookies.set(name, attacker.browser.cookies.get(name)!);
    const forged = await victim.browser.submit(victim.page.url, victim.page.html, '/login', {
      csrf: csrfOf(attacker.page.html), username: ALICE.username, password: ALICE.password,
    });
    expect(forged.status).toBe(403);
    // The victim's own page still works with its own token.
    const own = await loginPage(victim.browser);
    const response = await own.browser.submit(own.page.url, own.page.html, '/login', { username: ALICE.username, password: ALICE.password });
    expect(response.status).toBe(303);
  });

  it('issues a new token once the browser signs in (the consent form is bound to the new session)', async () => {
    const { browser, page } = await loginPage();
    const before = csrfOf(page.html);
    const { browser: signedIn } = await logIn(latch.url, await webClient(latch.url), { browser });
    const devices = await signedIn.follow(`${latch.url}/account/devices`, latch.url);
    // Signing in to the devices page goes through its own sign-in; the page is then rendered.
    expect(devices.html).toContain('Log out of all devices');
    expect(csrfOf(devices.html!)).not.toBe(before);
  });
});

describe('admin API paths and headers', () => {
  it.each(['/admin/accounts/%E0%A4%A/revoke', '/admin/accounts/%/sessions', '/admin/clients/%zz/revoke'])('answers 400 invalid_request, not 500, to malformed percent-encoding (%s)', async (path) => {
    const method = path.endsWith('/sessions') ? 'GET' : 'POST';
    const { status, json } = await adminCall(latch.url, method, path, admin, method === 'POST' ? { reason: 'x' } : undefined);
    expect(status).toBe(400);
    expect(json).toEqual({ error: 'invalid_request', error_description: 'malformed percent-encoding in the path' });
  });

  it.each(['bearer', 'BEARER', 'BeArEr'])('accepts the %s scheme: RFC 7235 §2.1 schemes are case-insensitive', async (scheme) => {
    const response = await fetch(`${latch.url}/admin/accounts/alice`, { headers: { authorization: `${scheme} ${admin}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ username: 'alice' });
  });

  it('still refuses other schemes and malformed tokens with 400 invalid_request', async () => {
    for (const header of [`Basic ${admin}`, `Bearer ${admin} extra`, 'Bearer', `Bearer  ${admin}x!`]) {
      const response = await fetch(`${latch.url}/admin/accounts/alice`, { headers: { authorization: header } });
      expect({ header, status: response.status }).toEqual({ header, status: 400 });
    }
  });
});
