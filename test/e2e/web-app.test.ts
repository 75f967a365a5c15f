import { createServer, type Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { koaResourceServer, type KoaResourceServer } from 'latch/resource-server';
import { createOrdersApi } from '../../examples/koa-api/app.js';
import { createWebApp } from '../../examples/web-app/app.js';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader } from 'jose';
import { launchChromium } from '../support/browser-chromium.js';
import { dpopHeaders, dpopKey } from '../support/dpop.js';
import { postForm } from '../support/oauth.js';
import { ORDERS_API, RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { startLatchWith, type RsTestLatch } from '../support/rs-latch.js';
import { listen, type Listening } from '../support/rs-apps.js';
import { adminRevokeAccount } from '../support/rs-tokens.js';
import { freePort, startRedis, type TestRedis } from '../support/redis-server.js';

let redis: TestRedis;
let latch: RsTestLatch;
let api: Listening;
let middleware: KoaResourceServer;
let app: Server;
let appUrl: string;
let browser: Browser;
/** While true, the app's back-channel logout endpoint answers 503. */
let backchannelDown = false;
/** Every status the Orders API answered, in order (what the app saw). */
const apiStatuses: number[] = [];
/** What an eavesdropper between the app and the API saw of the last call: its credentials. */
let captured: { authorization: string; dpop: string } | undefined;
/** The Orders API's own DPoP nonces (RFC 9449 §9): the app must answer use_dpop_nonce too. */
const NONCE_SECRET = 'orders-api-e2e-dpop-nonce-secret-0123456';

beforeAll(async () => {
  redis = await startRedis();
  const appPort = await freePort();
  appUrl = `http://127.0.0.1:${appPort}`;
  latch = await startLatchWith(redis.url, (await rsConfig({ appOrigin: appUrl })).file);
  middleware = koaResourceServer({
    issuer: latch.url,
    client: { clientId: 'orders-api', clientSecret: RS_SECRETS.ordersApi },
    audience: ORDERS_API,
    realm: 'orders',
    dpop: { nonce: { secret: NONCE_SECRET } },
  });
  const orders = createOrdersApi(middleware).callback();
  api = await listen((req, res) => {
    res.on('finish', () => apiStatuses.push(res.statusCode));
    captured = { authorization: String(req.headers.authorization), dpop: String(req.headers.dpop) };
    void orders(req, res);
  });
  const web = await createWebApp({ issuer: latch.url, clientId: 'demo-web', clientSecret: RS_SECRETS.demoWeb, appUrl, apiUrl: api.url });
  const handle = web.callback();
  app = createServer((req, res) => {
    // A back-channel endpoint that is down (Latch retries later): the app must still cope on its own.
    if (backchannelDown && req.url === '/backchannel-logout') return void res.writeHead(503).end();
    void handle(req, res);
  });
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

/** From the app's home page through Latch's login and consent pages, back to the app. */
async function logIn(page: Page): Promise<void> {
  await page.goto(`${appUrl}/`);
  await page.click('#login');
  await page.waitForURL(`${latch.url}/interaction/**`);
  await page.fill('#username', 'alice');
  await page.fill('#password', 'alice-password-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${appUrl}/`);
  expect(await page.textContent('#user')).toContain('Signed in as alice');
}

describe('examples/web-app in headless Chromium, with examples/koa-api and a real Latch', () => {
  it('calls the API with DPoP-bound tokens (nonces answered), and a captured token or proof is useless to anyone else', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await logIn(page);
    const before = apiStatuses.length;
    await page.click('#orders');
    await page.waitForURL(`${appUrl}/orders`);
    expect(await page.textContent('#order-list')).toContain('Welcome pack');
    // The first call is asked for the API's nonce, openid-client retries with it; then it is known.
    expect(apiStatuses.slice(before)).toEqual([401, 200]);
    await page.goto(`${appUrl}/orders`);
    expect(apiStatuses.slice(before)).toEqual([401, 200, 200]);

    const stolen = captured!;
    expect(stolen.authorization).toMatch(/^DPoP [\w-]+$/);
    const token = stolen.authorization.slice('DPoP '.length);
    const header = decodeProtectedHeader(stolen.dpop);
    expect(header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' });
    const answer = await postForm(`${latch.url}/introspect`, { token }, ['orders-api', RS_SECRETS.ordersApi]);
    expect(answer.json).toMatchObject({ active: true, client_id: 'demo-web', sub: 'sub-alice', token_type: 'DPoP', cnf: { jkt: await calculateJwkThumbprint(header.jwk!) } });

    // The eavesdropper replays what it saw: the exact request (a spent proof), the token as a
    // bearer token, and the token with a proof of its own key (nonce included: nonces are public).
    const { nonce } = decodeJwt(stolen.dpop) as { nonce: string };
    const thief = await dpopKey();
    const attempts = [
      { authorization: stolen.authorization, dpop: stolen.dpop },
      { authorization: `Bearer ${token}` },
      await dpopHeaders(thief, token, 'GET', `${api.url}/orders`, { nonce }),
    ];
    const answers = [];
    for (const headers of attempts) {
      const response = await fetch(`${api.url}/orders`, { headers });
      answers.push([response.status, ((await response.json()) as { error_description: string }).error_description]);
    }
    expect(answers).toEqual([
      [401, 'the DPoP proof was already used (its jti is spent)'],
      [401, 'the access token is bound to a DPoP key: it cannot be used as a bearer token'],
      [401, 'the DPoP proof is signed by another key than the one the access token is bound to'],
    ]);
    // The app, holding the key, still gets through.
    await page.goto(`${appUrl}/orders`);
    expect(await page.textContent('#order-list')).toContain('Welcome pack');
    await context.close();
  });

  it('logs in with code + PKCE, shows API data, refreshes the token, places an order, and logs out (revocation + RP-initiated logout)', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await logIn(page);

    await page.click('#orders');
    await page.waitForURL(`${appUrl}/orders`);
    expect(await page.textContent('#order-list')).toContain('Welcome pack');
    expect(await page.textContent('#permissions')).toContain('scopes orders:read orders:write');

    await page.goto(`${appUrl}/`);
    await page.click('#refresh');
    await page.waitForURL(`${appUrl}/`);
    expect(await page.textContent('#notice')).toBe('Access token refreshed.');

    await page.click('#orders');
    await page.fill('#item', 'Teapot');
    await page.click('#place');
    await page.waitForURL(`${appUrl}/orders`);
    expect(await page.textContent('#order-list')).toContain('Teapot');

    await page.goto(`${appUrl}/`);
    await page.click('#logout');
    await page.waitForURL(`${latch.url}/session/end**`);
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(`${appUrl}/`);
    expect(await page.textContent('body')).toContain('You are signed out.');

    // The app revoked its refresh token at Latch (RFC 7009): Latch's event stream says so.
    const events = (await redis.client.xrange('latch:events:stream', '-', '+')).map(([, fields]) => JSON.parse(fields[1]!));
    expect(events).toContainEqual(expect.objectContaining({ type: 'revocation', client_id: 'demo-web', sub: 'sub-alice', actor: 'demo-web' }));
    // And Latch's session is over: signing in again shows the login page.
    await page.click('#login');
    await page.waitForURL(`${latch.url}/interaction/**`);
    expect(await page.locator('#username').count()).toBe(1);
    await context.close();
  });

  it('after an admin revokes the user while its back-channel endpoint is down, the next API call fails with 401 and the app sends the user back to login', async () => {
    backchannelDown = true;
    const context = await browser.newContext();
    const page = await context.newPage();
    await logIn(page);
    await page.click('#orders');
    expect(await page.textContent('#order-list')).toContain('Welcome pack');
    expect(apiStatuses.at(-1)).toBe(200);

    await adminRevokeAccount(latch.url, 'alice');
    const before = apiStatuses.length;

    await page.goto(`${appUrl}/`);
    await page.click('#orders');
    await page.waitForURL(`${latch.url}/interaction/**`);
    expect(apiStatuses.slice(before)).toEqual([401]);
    expect(await page.getByRole('heading', { name: 'Sign in' }).count()).toBe(1);
    expect(await page.locator('#username').count()).toBe(1);
    await context.close();
    backchannelDown = false;
  });

  it('after "Log out of all devices" in another browser, reloading the app asks to sign in although it never called an API (back-channel logout)', async () => {
    const appContext = await browser.newContext();
    const app = await appContext.newPage();
    await logIn(app);
    const calls = apiStatuses.length;

    // Elsewhere (another browser, its own cookies): Latch's devices page, "Log out of all devices".
    const otherContext = await browser.newContext();
    const devices = await otherContext.newPage();
    await devices.goto(`${latch.url}/account/devices`);
    await devices.getByLabel('Username').fill('alice');
    await devices.getByLabel('Password').fill('alice-password-1');
    await devices.getByRole('button', { name: 'Sign in' }).click();
    await devices.waitForURL(`${latch.url}/account/devices`);
    await expect(devices.locator('tbody').innerText()).resolves.toContain('Demo Web App');
    await devices.getByRole('button', { name: 'Log out of all devices' }).click();
    await expect(devices.getByRole('heading', { name: 'Signed out everywhere' }).isVisible()).resolves.toBe(true);

    // The app's own session ended through its back-channel endpoint (delivered in the background, within moments).
    let text = '';
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      await app.reload();
      text = (await app.textContent('body')) ?? '';
      if (text.includes('You are signed out.')) break;
    }
    expect(text).toContain('You are signed out.');
    await expect(app.locator('#login').isVisible()).resolves.toBe(true);
    expect(apiStatuses.length).toBe(calls);
    await app.click('#login');
    await app.waitForURL(`${latch.url}/interaction/**`);
    expect(await app.locator('#username').count()).toBe(1);
    await otherContext.close();
    await appContext.close();
  });
});
