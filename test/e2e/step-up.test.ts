import { createServer, type Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { koaResourceServer, type KoaResourceServer } from 'latch/resource-server';
import { createOrdersApi } from '../../examples/koa-api/app.js';
import { Orders } from '../../examples/koa-api/orders.js';
import { createWebApp } from '../../examples/web-app/app.js';
import { launchChromium } from '../support/browser-chromium.js';
import { ORDERS_API, RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { startLatchWith, type RsTestLatch } from '../support/rs-latch.js';
import { listen, type Listening } from '../support/rs-apps.js';
import { freePort, startRedis, type TestRedis } from '../support/redis-server.js';

/** The Orders API asks for a sign-in at most this old to change the delivery address. */
const MAX_AGE = 2;

let redis: TestRedis;
let latch: RsTestLatch;
let api: Listening;
let middleware: KoaResourceServer;
let app: Server;
let appUrl: string;
let browser: Browser;
/** Every request the Orders API answered: method, path, status (what the app saw). */
const apiCalls: string[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const appPort = await freePort();
  appUrl = `http://127.0.0.1:${appPort}`;
  latch = await startLatchWith(redis.url, (await rsConfig({ appOrigin: appUrl })).file);
  middleware = koaResourceServer({ issuer: latch.url, client: { clientId: 'orders-api', clientSecret: RS_SECRETS.ordersApi }, audience: ORDERS_API, realm: 'orders' });
  const orders = createOrdersApi(middleware, new Orders(), MAX_AGE).callback();
  api = await listen((req, res) => {
    res.on('finish', () => apiCalls.push(`${req.method} ${req.url} ${res.statusCode}`));
    void orders(req, res);
  });
  const web = await createWebApp({ issuer: latch.url, clientId: 'demo-web', clientSecret: RS_SECRETS.demoWeb, appUrl, apiUrl: api.url });
  app = createServer(web.callback());
  await new Promise<void>((resolve) => app.listen(appPort, '127.0.0.1', resolve));
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  app.closeAllConnections();
  await new Promise<void>((resolve) => app.close(() => resolve()));
  await api.close();
  await middleware.close();
  await latch.close();
  await redis.close();
});

async function signIn(page: Page): Promise<void> {
  await page.fill('#username', 'alice');
  await page.fill('#password', 'alice-password-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('step-up in examples/web-app (RFC 9470), in headless Chromium', () => {
  it('a sensitive change first fails for an old sign-in, sends the browser to Latch\'s login page, and succeeds after signing in', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${appUrl}/`);
    await page.click('#login');
    await page.waitForURL(`${latch.url}/interaction/**`);
    await signIn(page);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${appUrl}/`);

    await page.click('#address-link');
    await page.waitForURL(`${appUrl}/address`);
    expect(await page.textContent('#current-address')).toBe('(not set)');

    // Long enough that the sign-in is older than the API's max_age.
    await new Promise((r) => setTimeout(r, (MAX_AGE + 1.5) * 1000));
    const before = apiCalls.length;
    await page.fill('#new-address', '221B Baker Street');
    await page.click('#save-address');

    // Refused by the API with the step-up challenge: the app sends the browser to sign in again.
    await page.waitForURL(`${latch.url}/interaction/**`);
    expect(apiCalls.slice(before)).toEqual(['PUT /address 401']);
    expect(await page.getByRole('heading', { name: 'Sign in' }).count()).toBe(1);
    expect(await page.locator('#username').count()).toBe(1);

    await signIn(page);
    await page.waitForURL(`${appUrl}/address`);
    expect(await page.textContent('#notice')).toBe('Delivery address changed.');
    expect(await page.textContent('#current-address')).toBe('221B Baker Street');
    expect(apiCalls.slice(before)).toEqual(['PUT /address 401', 'PUT /address 200', 'GET /address 200']);

    // Within max_age of that sign-in, the next change goes through at once.
    await page.fill('#new-address', '10 Downing Street');
    await page.click('#save-address');
    await page.waitForURL(`${appUrl}/address`);
    expect(await page.textContent('#current-address')).toBe('10 Downing Street');
    await context.close();
  });
});
