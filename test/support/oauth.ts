import * as oidc from 'openid-client';
import { BrowserSession } from './browser-session.js';
import { ALICE, REDIRECT_URI, SECRETS } from './test-config.js';

/** openid-client configuration for one of the test clients (plain http allowed: loopback only). */
export async function clientFor(issuer: string, clientId: string, secret?: string): Promise<oidc.Configuration> {
  const auth = secret ? oidc.ClientSecretBasic(secret) : oidc.None();
  return oidc.discovery(new URL(issuer), clientId, secret ? undefined : { token_endpoint_auth_method: 'none' }, auth, {
    execute: [oidc.allowInsecureRequests],
  });
}

export const webClient = (issuer: string) => clientFor(issuer, 'web', SECRETS.web);

export interface LoginOptions {
  scope?: string;
  resource?: string;
  /** Extra request headers for the login form POST (e.g. X-Forwarded-For, edge location headers). */
  loginHeaders?: Record<string, string>;
  username?: string;
  password?: string;
  browser?: BrowserSession;
  /** Exchange the code with this DPoP handle (the tokens come back bound to its key). */
  DPoP?: oidc.DPoPHandle;
  /** OIDC `prompt` (default `consent`); `login consent` signs in again on a browser that has a session. */
  prompt?: string;
  /** OIDC `max_age` (seconds). */
  maxAge?: number;
}

/**
 * Runs the authorization code + PKCE flow through Latch's real login and consent pages and
 * exchanges the code with openid-client. Returns the token response.
 */
export async function logIn(issuer: string, client: oidc.Configuration, options: LoginOptions = {}) {
  const browser = options.browser ?? new BrowserSession();
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(client, {
    redirect_uri: REDIRECT_URI,
    scope: options.scope ?? 'openid email offline_access a:read',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    prompt: options.prompt ?? 'consent',
    ...(options.maxAge === undefined ? {} : { max_age: String(options.maxAge) }),
    ...(options.resource ? { resource: options.resource } : {}),
  });
  let step = await browser.follow(url.href, issuer);
  for (let i = 0; i < 4 && step.html; i++) {
    const response = step.html.includes('/login"')
      ? await browser.submit(
          step.url,
          step.html,
          '/login',
          { username: options.username ?? ALICE.username, password: options.password ?? ALICE.password },
          options.loginHeaders,
        )
      : await browser.submit(step.url, step.html, '/confirm');
    const location = response.headers.get('location');
    if (!location) throw new Error(`login step failed with ${response.status}: ${(await response.text()).slice(0, 3000)}`);
    step = await browser.follow(new URL(location, step.url).href, issuer);
  }
  if (!step.url.startsWith(REDIRECT_URI)) throw new Error(`flow ended at ${step.url}`);
  const tokens = await oidc.authorizationCodeGrant(client, new URL(step.url), { pkceCodeVerifier: verifier, expectedState: state }, undefined, options.DPoP ? { DPoP: options.DPoP } : undefined);
  return { tokens, browser, callbackUrl: step.url };
}

/** POSTs a form to Latch with HTTP Basic client authentication; returns status, headers and JSON. */
export async function postForm(url: string, form: Record<string, string>, basic?: [string, string], headers: Record<string, string> = {}) {
  const h: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...headers };
  if (basic) h.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString('base64')}`;
  const response = await fetch(url, { method: 'POST', headers: h, body: new URLSearchParams(form) });
  const text = await response.text();
  const json = parseJson(text);
  return { status: response.status, headers: response.headers, json, text };
}

/** A response body as a JSON object, or undefined when it is not JSON (an HTML page, a 5xx text). */
export function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
