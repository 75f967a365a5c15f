import * as oidc from 'openid-client';
// The tests' cookie-keeping browser: the bench logs users in through the same pages.
import { BrowserSession } from '../../test/support/browser-session.js';
import { parseJson } from '../../test/support/oauth.js';
import { CLIENTS, REDIRECT_URI } from './bench-config.js';

export function basic([id, secret]: readonly [string, string]): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** POSTs a form with HTTP Basic client authentication; returns status and parsed JSON (if any). */
export async function postForm(url: string, form: Record<string, string>, client?: readonly [string, string]) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (client) headers.authorization = basic(client);
  const response = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(form) });
  const text = await response.text();
  const json = parseJson(text);
  return { status: response.status, json, text };
}

/** An access token from the real token endpoint (client credentials). */
export async function clientCredentials(issuer: string, client: readonly [string, string], scope: string, resource: string): Promise<string> {
  const { status, json, text } = await postForm(`${issuer}/token`, { grant_type: 'client_credentials', scope, resource }, client);
  if (status !== 200 || typeof json?.access_token !== 'string') throw new Error(`client_credentials failed (${status}): ${text.slice(0, 300)}`);
  return json.access_token;
}

/** Whether introspecting `token` as `introspector` answers active. */
export async function isActive(issuer: string, token: string, introspector: readonly [string, string] = CLIENTS.introspector): Promise<boolean> {
  const { json } = await postForm(`${issuer}/introspect`, { token }, introspector);
  return json?.active === true;
}

/**
 * Logs `user` in through Latch's real login and consent pages (authorization code + PKCE) as the
 * bench's web client and returns the user's access token.
 */
export async function userAccessToken(issuer: string, user: { username: string; password: string }, scope: string, resource: string): Promise<string> {
  return (await userTokens(issuer, user, scope, resource)).accessToken;
}

/** The same login, returning the refresh token too (present when `scope` has offline_access). */
export async function userTokens(
  issuer: string,
  user: { username: string; password: string },
  scope: string,
  resource: string,
): Promise<{ accessToken: string; refreshToken?: string }> {
  const client = await oidc.discovery(new URL(issuer), CLIENTS.web[0], undefined, oidc.ClientSecretBasic(CLIENTS.web[1]), {
    execute: [oidc.allowInsecureRequests],
  });
  const browser = new BrowserSession();
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(client, {
    redirect_uri: REDIRECT_URI,
    scope: `openid ${scope}`,
    resource,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    prompt: 'consent',
  });
  let step = await browser.follow(url.href, issuer);
  for (let i = 0; i < 4 && step.html; i++) {
    const response = step.html.includes('/login"')
      ? await browser.submit(step.url, step.html, '/login', { username: user.username, password: user.password })
      : await browser.submit(step.url, step.html, '/confirm');
    const location = response.headers.get('location');
    if (!location) throw new Error(`login step failed with ${response.status}: ${(await response.text()).slice(0, 300)}`);
    step = await browser.follow(new URL(location, step.url).href, issuer);
  }
  if (!step.url.startsWith(REDIRECT_URI)) throw new Error(`login flow ended at ${step.url}`);
  const tokens = await oidc.authorizationCodeGrant(client, new URL(step.url), { pkceCodeVerifier: verifier, expectedState: state }, { resource });
  return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
}
