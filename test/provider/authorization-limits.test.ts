import { MAX_PARAMETER_LENGTH, MAX_PARAMETERS_LENGTH } from '../../src/provider/authorization-limits.js';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { ALICE, REDIRECT_URI } from '../support/test-config.js';

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

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

function authorizationUrl(extra: Record<string, string>, redirectUri = REDIRECT_URI): string {
  const url = new URL(`${latch.url}/auth`);
  url.search = new URLSearchParams({
    client_id: 'web', response_type: 'code', scope: 'openid', redirect_uri: redirectUri, code_challenge: CHALLENGE, code_challenge_method: 'S256', ...extra,
  }).toString();
  return url.href;
}

/** The TTLs (seconds, rounded up) of the records of one model (`i` Interaction, `s` Session). */
async function ttls(model: string): Promise<number[]> {
  const keys = await redis.client.keys(`${latch.store.keys.prefix}${model}:*`);
  return Promise.all(keys.map(async (key) => Math.ceil((await redis.client.pttl(key)) / 1000)));
}

beforeEach(async () => {
  await redis.client.flushall();
  await latch.accounts.seed(latch.config.file.accounts);
});

describe('authorization request parameter caps', () => {
  it.each([
    ['state', { state: 's'.repeat(MAX_PARAMETER_LENGTH + 1) }, `state is longer than ${MAX_PARAMETER_LENGTH} characters`],
    ['nonce', { state: 'xyz', nonce: 'n'.repeat(MAX_PARAMETER_LENGTH + 1) }, `nonce is longer than ${MAX_PARAMETER_LENGTH} characters`],
    ['login_hint', { state: 'xyz', login_hint: 'l'.repeat(MAX_PARAMETER_LENGTH + 1) }, `login_hint is longer than ${MAX_PARAMETER_LENGTH} characters`],
    [
      'all together',
      { state: 's'.repeat(1500), nonce: 'n'.repeat(1500), login_hint: 'l'.repeat(1500) },
      `the request's parameters are longer than ${MAX_PARAMETERS_LENGTH} characters together`,
    ],
  ])('redirects %s past its cap to the client with invalid_request (RFC 6749 §4.1.2.1), storing nothing', async (_name, extra, description) => {
    const response = await fetch(authorizationUrl(extra), { redirect: 'manual' });
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(REDIRECT_URI);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      error: 'invalid_request',
      error_description: description,
      iss: latch.url,
      state: extra.state,
    });
    expect(await redis.client.keys(`${latch.store.keys.prefix}i:*`)).toEqual([]);
  });

  it('shows an error page instead of redirecting when the redirect URI is not registered', async () => {
    const response = await fetch(authorizationUrl({ state: 's'.repeat(MAX_PARAMETER_LENGTH + 1) }, 'https://evil.example/cb'), { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('invalid_redirect_uri');
    expect(await redis.client.keys(`${latch.store.keys.prefix}i:*`)).toEqual([]);
  });

  it('accepts parameters at their cap', async () => {
    const response = await fetch(authorizationUrl({ state: 's'.repeat(MAX_PARAMETER_LENGTH), nonce: 'n'.repeat(1000) }), { redirect: 'manual' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toMatch(/^\/interaction\/[A-Za-z0-9_-]+$/);
  });
});

describe('what an anonymous browser makes Latch store is short-lived', () => {
  it('keeps the Interaction of an anonymous GET /auth for ttl.anonymous (600 s), and the consent step after sign-in for ttl.interaction', async () => {
    const browser = new BrowserSession();
    const page = await browser.follow(authorizationUrl({ state: 'xyz', prompt: 'consent' }), latch.url);
    expect(page.html).toContain('/login"');
    const [anonymous] = await ttls('i');
    // Stored with the clock tolerance (15 s) on top.
    expect(anonymous).toBeGreaterThan(600);
    expect(anonymous).toBeLessThanOrEqual(615);

    const login = await browser.submit(page.url, page.html!, '/login', { username: ALICE.username, password: ALICE.password });
    expect(login.status).toBe(303);
    const consent = await browser.follow(new URL(login.headers.get('location')!, page.url).href, latch.url);
    expect(consent.html).toContain('/confirm"');
    expect(Math.max(...(await ttls('i')))).toBeGreaterThan(3600);
    // The browser session of a signed-in user keeps its full lifetime.
    expect(Math.max(...(await ttls('s')))).toBeGreaterThan(14 * 24 * 3600);
  });

  it('keeps the Session an anonymous GET /session/end creates for ttl.anonymous, not the session lifetime (14 days)', async () => {
    const response = await fetch(`${latch.url}/session/end`, { redirect: 'manual' });
    expect(response.status).toBe(200);
    const sessions = await ttls('s');
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toBeLessThanOrEqual(615);
  });
});
