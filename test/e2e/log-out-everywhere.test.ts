import { chromium, type Browser } from 'playwright-core';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

/**
 * The seed scenario: Alice is signed in on her phone and her laptop; her phone is stolen; from a
 * library computer she opens "Your devices" in a real browser and presses "Log out of all devices".
 */
let redis: TestRedis;
let latch: TestLatch;
let browser: Browser;

const introspect = async (token: string) => (await postForm(`${latch.url}/introspect`, { token }, ['api-a', SECRETS.apiA])).json!;
const refresh = (client: [string, string], token: string) =>
  postForm(`${latch.url}/token`, { grant_type: 'refresh_token', refresh_token: token }, client);

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await latch.close();
  await redis.close();
});

describe('log out of all devices, from a library computer, in Chromium', () => {
  it('kills the phone and the laptop at once, and the library session too', async () => {
    const phone = (await logIn(latch.url, await webClient(latch.url))).tokens;
    const laptop = (await logIn(latch.url, await clientFor(latch.url, 'other-web', SECRETS.other), { scope: 'openid offline_access a:read' })).tokens;
    expect(await introspect(phone.access_token)).toMatchObject({ active: true });

    const library = await browser.newContext({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36' });
    const page = await library.newPage();
    const violations: string[] = [];
    page.on('console', (m) => m.type() === 'error' && violations.push(m.text()));
    await page.goto(`${latch.url}/account/devices`);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('alice-password-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${latch.url}/account/devices`);
    await expect(page.getByRole('heading', { name: 'Your devices' }).isVisible()).resolves.toBe(true);
    const rows = page.locator('tbody tr');
    await expect(rows.count()).resolves.toBe(3);
    await expect(page.locator('tbody').innerText()).resolves.toMatch(/Web App[\s\S]*Other App|Other App[\s\S]*Web App/);
    await expect(page.locator('tbody').innerText()).resolves.toContain('Latch account (this browser)');
    await expect(page.locator('tbody').innerText()).resolves.toContain('Chrome on Linux');
    await page.screenshot({ path: `${process.env.LATCH_SCREENSHOTS ?? '/tmp'}/latch-devices.png`, fullPage: true });

    await page.getByRole('button', { name: 'Log out of all devices' }).click();
    await expect(page.getByRole('heading', { name: 'Signed out everywhere' }).isVisible()).resolves.toBe(true);

    // Right after: the phone and the laptop are cut off.
    expect(await introspect(phone.access_token)).toEqual({ active: false });
    expect(await introspect(laptop.access_token)).toEqual({ active: false });
    expect((await refresh(['web', SECRETS.web], phone.refresh_token!)).json).toMatchObject({ error: 'invalid_grant' });
    expect((await refresh(['other-web', SECRETS.other], laptop.refresh_token!)).json).toMatchObject({ error: 'invalid_grant' });

    // Decided (docs/kill-switch.md): the library session does not survive; it asks for the password again.
    await page.goto(`${latch.url}/account/devices`);
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    expect(violations.filter((v) => /Content Security Policy/i.test(v))).toEqual([]);
    await library.close();
  });
});
