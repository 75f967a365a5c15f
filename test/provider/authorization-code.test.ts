import * as oidc from 'openid-client';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A, REDIRECT_URI, SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('authorization code flow with PKCE', () => {
  it('logs a user in through the login and consent pages and issues opaque tokens for the API', async () => {
    const client = await webClient(latch.url);
    const { tokens } = await logIn(latch.url, client);
    expect(tokens.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokens.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.scope).toBe('a:read');
    expect(tokens.claims()?.sub).toBe('sub-alice');

    const introspected = await postForm(`${latch.url}/introspect`, { token: tokens.access_token }, ['api-a', SECRETS.apiA]);
    expect(introspected.json).toMatchObject({ active: true, sub: 'sub-alice', aud: API_A, scope: 'a:read', client_id: 'web', username: 'alice' });
  });

  it('works for a public client (PKCE, no secret)', async () => {
    const client = await clientFor(latch.url, 'spa');
    const { tokens } = await logIn(latch.url, client, { scope: 'openid a:read' });
    expect(tokens.access_token).toHaveLength(43);
  });

  it('refuses an authorization request without a PKCE S256 challenge', async () => {
    const url = new URL(`${latch.url}/auth`);
    url.search = new URLSearchParams({ client_id: 'web', response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI }).toString();
    const response = await fetch(url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!);
    expect(location.href.startsWith(REDIRECT_URI)).toBe(true);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('refuses the plain PKCE method', async () => {
    const url = new URL(`${latch.url}/auth`);
    url.search = new URLSearchParams({
      client_id: 'web', response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI,
      code_challenge: 'a'.repeat(43), code_challenge_method: 'plain',
    }).toString();
    const response = await fetch(url, { redirect: 'manual' });
    expect(new URL(response.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  it('answers a wrong password and an unknown user with the same generic message', async () => {
    const client = await webClient(latch.url);
    const pages: string[] = [];
    for (const [username, password] of [['alice', 'wrong-password'], ['nobody', 'whatever-pass']]) {
      const browser = new BrowserSession();
      const url = oidc.buildAuthorizationUrl(client, {
        redirect_uri: REDIRECT_URI, scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
      });
      const page = await browser.follow(url.href, latch.url);
      const response = await browser.submit(page.url, page.html!, '/login', { username: username!, password: password! });
      expect(response.status).toBe(401);
      const html = await response.text();
      expect(html).toContain('Invalid username or password.');
      pages.push(html.replace(/value="[^"]*"/g, '').replace(/interaction\/[^/]+\//g, 'interaction/UID/'));
    }
    expect(pages[0]).toBe(pages[1]);
  });

  it('rejects a login form without the CSRF token', async () => {
    const client = await webClient(latch.url);
    const browser = new BrowserSession();
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: REDIRECT_URI, scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const page = await browser.follow(url.href, latch.url);
    const response = await browser.submit(page.url, page.html!, '/login', { username: 'alice', password: 'alice-password-1', csrf: 'forged' });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('access_denied');
  });

  it('serves the pages with a strict CSP and no inline script or style', async () => {
    const client = await webClient(latch.url);
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: REDIRECT_URI, scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const page = await new BrowserSession().follow(url.href, latch.url);
    const csp = page.response!.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.html).not.toMatch(/<script|style=|<style/);
    expect(page.response!.headers.get('cache-control')).toBe('no-store');
  });

  it('sends the user back with access_denied when consent is denied', async () => {
    const client = await webClient(latch.url);
    const browser = new BrowserSession();
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: REDIRECT_URI, scope: 'openid a:read',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    let page = await browser.follow(url.href, latch.url);
    let response = await browser.submit(page.url, page.html!, '/login', { username: 'alice', password: 'alice-password-1' });
    page = await browser.follow(new URL(response.headers.get('location')!, page.url).href, latch.url);
    expect(page.html).toContain('Authorize Web App');
    response = await browser.submit(page.url, page.html!, '/abort');
    const done = await browser.follow(new URL(response.headers.get('location')!, page.url).href, latch.url);
    expect(new URL(done.url).searchParams.get('error')).toBe('access_denied');
  });

  it('refuses an authorization request for an API the client is not registered for', async () => {
    const client = await webClient(latch.url);
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: REDIRECT_URI, scope: 'openid a:read', resource: 'https://unregistered.api.test',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const response = await fetch(url, { redirect: 'manual' });
    expect(new URL(response.headers.get('location')!).searchParams.get('error')).toBe('invalid_target');
  });
});
