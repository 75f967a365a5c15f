import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { parseFileConfig } from '../../src/config/load.js';
import { launchChromium } from '../support/browser-chromium.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { listen, type Listening } from '../support/rs-apps.js';
import { testFileConfig } from '../support/test-config.js';

/**
 * RP-initiated logout in a real browser, for an app whose signed-out page lives on another origin
 * than its callback (a marketing site, say). Chromium applies the logout page's CSP `form-action`
 * to the redirect that follows the form post (/session/end/confirm → 303 → post-logout URI).
 */
let redis: TestRedis;
let latch: TestLatch;
let app: Listening;
let site: Listening;
let browser: Browser;

const page = (title: string) => `<!doctype html><title>${title}</title><h1>${title}</h1>`;

beforeAll(async () => {
  redis = await startRedis();
  app = await listen((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(page('Signed in at the app')));
  site = await listen((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(page('See you soon')));
  const base = testFileConfig();
  const file = parseFileConfig({
    ...base,
    clients: [
      ...base.clients,
      {
        client_id: 'split-app',
        client_name: 'Split App',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        redirect_uris: [`${app.url}/callback`],
        post_logout_redirect_uris: [`${site.url}/bye`],
        scope: 'openid',
      },
    ],
  });
  latch = await startLatch(redis.url, { file });
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await app?.close();
  await latch?.close();
  await redis?.close();
});

describe('RP-initiated logout in Chromium', () => {
  it('lands on a post-logout redirect URI of another origin after "Yes, sign me out", signed out', async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    const violations: string[] = [];
    tab.on('console', (m) => m.type() === 'error' && violations.push(m.text()));

    const signIn = new URL(`${latch.url}/auth`);
    signIn.search = new URLSearchParams({
      client_id: 'split-app',
      response_type: 'code',
      scope: 'openid',
      redirect_uri: `${app.url}/callback`,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: oidc.randomState(),
    }).toString();
    await tab.goto(signIn.href);
    await tab.getByLabel('Username').fill('alice');
    await tab.getByLabel('Password').fill('alice-password-1');
    await tab.getByRole('button', { name: 'Sign in' }).click();
    await tab.getByRole('button', { name: 'Allow' }).click();
    await tab.waitForURL(`${app.url}/callback?**`);

    const logout = new URL(`${latch.url}/session/end`);
    logout.search = new URLSearchParams({ client_id: 'split-app', post_logout_redirect_uri: `${site.url}/bye`, state: 'after-logout' }).toString();
    await tab.goto(logout.href);
    await tab.getByRole('button', { name: 'Yes, sign me out' }).click();
    await tab.waitForURL(`${site.url}/bye?state=after-logout`, { timeout: 5000 });
    await expect(tab.getByRole('heading', { name: 'See you soon' }).isVisible()).resolves.toBe(true);
    expect(violations.filter((v) => /Content Security Policy/i.test(v))).toEqual([]);

    // Signed out for real: the next sign-in asks for the password again.
    await tab.goto(signIn.href);
    await expect(tab.getByRole('button', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    await context.close();
  });
});
