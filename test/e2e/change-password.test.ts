import type { Browser, Page } from 'playwright-core';
import { adminCall, adminToken } from '../support/admin.js';
import { launchChromium } from '../support/browser-chromium.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

/**
 * Alice changes her password on her account page in a real browser (headless Chromium): her phone
 * is signed out at once, the browser she changed it in stays signed in. Bob gets a reset link from
 * the security team and sets a new password with it.
 */
let redis: TestRedis;
let latch: TestLatch;
let browser: Browser;

const introspect = async (token: string) => (await postForm(`${latch.url}/introspect`, { token }, ['api-a', SECRETS.apiA])).json!;
const shots = process.env.LATCH_SCREENSHOTS ?? '/tmp';

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await latch.close();
  await redis.close();
});

function cspViolations(page: Page): string[] {
  const violations: string[] = [];
  page.on('console', (m) => m.type() === 'error' && /Content Security Policy/i.test(m.text()) && violations.push(m.text()));
  return violations;
}

async function changeForm(page: Page, current: string, next: string, confirm = next) {
  await page.getByLabel('Current password').fill(current);
  await page.getByLabel('New password', { exact: true }).fill(next);
  await page.getByLabel('New password again').fill(confirm);
  await page.getByRole('button', { name: 'Change password' }).click();
}

describe('changing the password on the account page, in Chromium', () => {
  it('signs out every other device at once and keeps this browser signed in', async () => {
    const phone = (await logIn(latch.url, await webClient(latch.url))).tokens;
    expect(await introspect(phone.access_token)).toMatchObject({ active: true });

    const context = await browser.newContext();
    const page = await context.newPage();
    const violations = cspViolations(page);
    await page.goto(`${latch.url}/account/devices`);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('alice-password-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${latch.url}/account/devices`);
    await page.getByRole('link', { name: 'Change your password' }).click();
    await page.waitForURL(`${latch.url}/account/password`);
    await expect(page.getByText('Every other device and app signed in to your account will be signed out at once.').isVisible()).resolves.toBe(true);
    await page.screenshot({ path: `${shots}/latch-change-password.png`, fullPage: true });

    await changeForm(page, 'not my password', 'a better secret now');
    await expect(page.getByRole('alert').innerText()).resolves.toBe('Your current password is not right.');
    await changeForm(page, 'alice-password-1', 'trustno1');
    await expect(page.getByRole('alert').innerText()).resolves.toBe('The new password is one of the most common passwords, the first an attacker tries: choose another.');
    await changeForm(page, 'alice-password-1', 'a better secret now', 'a better secret, now');
    await expect(page.getByRole('alert').innerText()).resolves.toBe('The two new passwords are not the same.');
    // Nothing changed so far: the phone is still signed in.
    expect(await introspect(phone.access_token)).toMatchObject({ active: true });

    await changeForm(page, 'alice-password-1', 'a better secret now');
    await expect(page.getByRole('heading', { name: 'Password changed' }).isVisible()).resolves.toBe(true);

    expect(await introspect(phone.access_token)).toEqual({ active: false });
    const refreshed = await postForm(`${latch.url}/token`, { grant_type: 'refresh_token', refresh_token: phone.refresh_token! }, ['web', SECRETS.web]);
    expect(refreshed.json).toMatchObject({ error: 'invalid_grant' });

    // This browser is still signed in: the devices page opens without a password.
    await page.getByRole('link', { name: 'Back to your devices' }).click();
    await page.waitForURL(`${latch.url}/account/devices`);
    await expect(page.getByRole('heading', { name: 'Your devices' }).isVisible()).resolves.toBe(true);

    await expect(logIn(latch.url, await webClient(latch.url))).rejects.toThrow(/login step failed with 401/);
    const fresh = (await logIn(latch.url, await webClient(latch.url), { password: 'a better secret now' })).tokens;
    expect(await introspect(fresh.access_token)).toMatchObject({ active: true, sub: 'sub-alice' });
    expect(violations).toEqual([]);
    await context.close();
  });

  it('sends a signed-out browser to the sign-in first', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${latch.url}/account/password`);
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    await context.close();
  });
});

describe('a reset link, in Chromium', () => {
  it('sets a new password with the link security staff generated, and the link works once', async () => {
    const admin = await adminToken(latch.url);
    const { json } = await adminCall(latch.url, 'POST', '/admin/accounts/bob/reset-link', admin, { reason: 'forgot it' });
    const link = json!.link as string;
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations = cspViolations(page);
    await page.goto(link);
    await expect(page.getByRole('heading', { name: 'Set a new password' }).isVisible()).resolves.toBe(true);
    await page.getByLabel('New password', { exact: true }).fill('bob');
    await page.getByLabel('New password again').fill('bob');
    await page.getByRole('button', { name: 'Set password' }).click();
    // The browser itself refuses a password shorter than the policy (minlength); nothing was sent.
    await expect(page.getByRole('heading', { name: 'Set a new password' }).isVisible()).resolves.toBe(true);
    await page.getByLabel('New password', { exact: true }).fill('bob reset this today');
    await page.getByLabel('New password again').fill('bob reset this today');
    await page.getByRole('button', { name: 'Set password' }).click();
    await expect(page.getByRole('heading', { name: 'Password set' }).isVisible()).resolves.toBe(true);
    await page.screenshot({ path: `${shots}/latch-reset-done.png`, fullPage: true });
    await page.goto(link);
    await expect(page.getByRole('heading', { name: 'Link not valid' }).isVisible()).resolves.toBe(true);
    const tokens = (await logIn(latch.url, await webClient(latch.url), { username: 'bob', password: 'bob reset this today' })).tokens;
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, sub: 'sub-bob' });
    expect(violations).toEqual([]);
    await context.close();
  });
});
