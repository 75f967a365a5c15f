import * as oidc from 'openid-client';
import { rateLimitsSchema } from '../../src/config/schema.js';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type StartOptions, type TestLatch } from '../support/latch-server.js';
import { postForm, webClient } from '../support/oauth.js';
import { REDIRECT_URI, testFileConfig } from '../support/test-config.js';

/** Starts Latch with these rate limits (the rest defaulted; one-hour windows unless given). */
export function startLimited(redis: Parameters<typeof startLatch>[0], limits: Record<string, unknown>, options: StartOptions = {}): Promise<TestLatch> {
  const rateLimits = rateLimitsSchema.parse({ windowSeconds: 3600, syncIntervalMs: 0, ...limits });
  return startLatch(redis, { ...options, file: { ...testFileConfig(), rateLimits } });
}

let lastIp = 0;
/** A documentation address (RFC 5737) no other request of the run used: a fresh per-address budget. */
export function freshIp(): string {
  lastIp++;
  return `203.0.${Math.floor(lastIp / 250)}.${(lastIp % 250) + 1}`;
}

/**
 * Fixed windows are aligned to the clock: a test that fills a budget must not straddle the end of
 * a window, or the second half would count in a new one. Waits for the next window if this one
 * ends within `marginMs`.
 */
export async function awayFromWindowEnd(windowSeconds: number, marginMs = 5000): Promise<void> {
  const left = windowSeconds * 1000 - (Date.now() % (windowSeconds * 1000));
  if (left < marginMs) await new Promise((r) => setTimeout(r, left + 50));
}

/** Polls `probe` (every 50 ms, up to `timeoutMs`) until it returns true. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export type Credentials = [string, string] | undefined;

/** One POST to each limited endpoint, from `ip` (X-Forwarded-For through one trusted proxy). */
export const call = {
  introspection: (url: string, ip: string, auth?: Credentials) => postForm(`${url}/introspect`, { token: 'not-a-token' }, auth, { 'x-forwarded-for': ip }),
  token: (url: string, ip: string, auth?: Credentials, scope = 'a:read') =>
    postForm(`${url}/token`, { grant_type: 'client_credentials', scope }, auth, { 'x-forwarded-for': ip }),
  revocation: (url: string, ip: string, auth?: Credentials) => postForm(`${url}/revoke`, { token: 'not-a-token' }, auth, { 'x-forwarded-for': ip }),
};

/** One login form POST (wrong password) from `ip`, on a fresh authorization request. */
export async function loginAttempt(url: string, ip: string) {
  const browser = new BrowserSession();
  const client = await webClient(url);
  const authorization = oidc.buildAuthorizationUrl(client, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const page = await browser.follow(authorization.href, url);
  const response = await browser.submit(page.url, page.html!, '/login', { username: 'alice', password: 'wrong-password' }, { 'x-forwarded-for': ip });
  return { status: response.status, headers: response.headers, text: await response.text() };
}
