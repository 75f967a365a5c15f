import * as oidc from 'openid-client';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { ALICE, REDIRECT_URI, SECRETS } from '../support/test-config.js';

/** Two Latch instances behind an imaginary load balancer: they share only Redis and config. */
let redis: TestRedis;
let a: TestLatch;
let b: TestLatch;
const apiA: [string, string] = ['api-a', SECRETS.apiA];

beforeAll(async () => {
  redis = await startRedis();
  a = await startLatch(redis.url);
  b = await startLatch(redis.url, { config: a.config });
});
afterAll(async () => {
  await a.close();
  await b.close();
  await redis.close();
});

const onB = (url: string) => url.replace(a.url, b.url);

describe('many instances', () => {
  it('finishes at B a login started at A, and each sees the other’s tokens and revocations', async () => {
    const client = await webClient(a.url);
    const browser = new BrowserSession();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: REDIRECT_URI, scope: 'openid offline_access a:read', prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    // Started at A: the login page is served by A...
    const login = await browser.follow(url.href, a.url);
    expect(login.html).toContain('Sign in');
    // ...and every later step goes to B (same cookies, same keys).
    let response = await browser.submit(onB(login.url), login.html!, '/login', { username: ALICE.username, password: ALICE.password });
    let page = await browser.follow(onB(new URL(response.headers.get('location')!, onB(login.url)).href), b.url);
    expect(page.html).toContain('Authorize Web App');
    response = await browser.submit(page.url, page.html!, '/confirm');
    page = await browser.follow(new URL(response.headers.get('location')!, page.url).href, b.url);
    expect(page.url.startsWith(REDIRECT_URI)).toBe(true);

    // The code is exchanged at A, introspected at B.
    const tokens = await oidc.authorizationCodeGrant(client, new URL(page.url), { pkceCodeVerifier: verifier });
    expect((await postForm(`${b.url}/introspect`, { token: tokens.access_token }, apiA)).json).toMatchObject({ active: true, sub: 'sub-alice' });

    // Revoked at B, dead at A on the next call.
    await postForm(`${b.url}/revoke`, { token: tokens.refresh_token! }, ['web', SECRETS.web]);
    expect((await postForm(`${a.url}/introspect`, { token: tokens.access_token }, apiA)).json).toEqual({ active: false });
  });
});
