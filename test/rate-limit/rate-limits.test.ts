import type { StartOptions, TestLatch } from '../support/latch-server.js';
import { postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';
import { awayFromWindowEnd, call, eventually, freshIp, loginAttempt, startLimited, type Credentials } from './support.js';

let redis: TestRedis;
const started: TestLatch[] = [];

async function start(limits: Record<string, unknown>, options: StartOptions = {}): Promise<TestLatch> {
  const latch = await startLimited(redis.url, limits, options);
  started.push(latch);
  return latch;
}

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const latch of started) await latch.close();
  await redis.close();
});
beforeEach(() => awayFromWindowEnd(3600));

const apiA: Credentials = ['api-a', SECRETS.apiA];
const apiB: Credentials = ['api-b', SECRETS.apiB];
const svc: Credentials = ['svc', SECRETS.svc];
const admin: Credentials = ['security-admin', SECRETS.admin];
const web: Credentials = ['web', SECRETS.web];
const otherWeb: Credentials = ['other-web', SECRETS.other];

type Answer = { status: number; headers: Headers; json?: Record<string, unknown> };

function expectRefused(answer: Answer, scope: 'address' | 'client', windowSeconds = 3600) {
  expect(answer.status).toBe(429);
  const retryAfter = Number(answer.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowSeconds).toBe(true);
  expect(answer.headers.get('cache-control')).toBe('no-store');
  const who = scope === 'client' ? 'for this client' : 'from this address';
  expect(answer.json).toEqual({ error: 'temporarily_unavailable', error_description: `too many requests ${who}, retry after ${retryAfter} s` });
}

const PER_ADDRESS = { perClient: 1000, perAddress: 3 };
const BY_ADDRESS = { introspection: PER_ADDRESS, token: PER_ADDRESS, revocation: PER_ADDRESS, login: { perAddress: 2 } };
const BY_CLIENT = { introspection: { perClient: 4, perAddress: 0 }, token: { perClient: 4, perAddress: 0 }, revocation: { perClient: 4, perAddress: 0 } };

describe('rate limits per address', () => {
  let latch: TestLatch;
  beforeAll(async () => {
    latch = await start(BY_ADDRESS, { trustedProxies: 1 });
  });

  it.each([
    ['POST /introspect', 'introspection', apiA],
    ['POST /token', 'token', svc],
    ['POST /revoke', 'revocation', web],
  ] as const)('%s: answers 429 with Retry-After once an address spent its budget, whatever it sends, and not to other addresses', async (_name, endpoint, credentials) => {
    const { url } = latch;
    const ip = freshIp();
    for (let i = 0; i < 3; i++) expect((await call[endpoint](url, ip)).status).toBe(401);
    expectRefused(await call[endpoint](url, ip), 'address');
    expectRefused(await call[endpoint](url, ip, credentials), 'address');
    expect((await call[endpoint](url, freshIp())).status).toBe(401);
    expect((await call[endpoint](url, freshIp(), credentials)).status).toBe(200);
  });

  it('POST /interaction/…/login: answers 429 with Retry-After and a plain page once an address spent its budget, and not to other addresses', async () => {
    const ip = freshIp();
    for (let i = 0; i < 2; i++) expect((await loginAttempt(latch.url, ip)).status).toBe(401);
    const refused = await loginAttempt(latch.url, ip);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect(refused.headers.get('content-type')).toMatch(/^text\/html/);
    expect(refused.text).toMatch(/Too many sign-in attempts from your network\. Try again in \d+ (seconds?|minutes)\./);
    expect((await loginAttempt(latch.url, freshIp())).status).toBe(401);
  });

  it('counts every introspection request against its address, a refused non-form one too', async () => {
    const ip = freshIp();
    const json = () => fetch(`${latch.url}/introspect`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': ip }, body: '{}' });
    for (let i = 0; i < 3; i++) expect((await json()).status).toBe(400);
    expect((await json()).status).toBe(429);
  });

  it('takes the address the trusted proxy saw, not one the caller put in front of it, in the lean handler and in Koa alike', async () => {
    for (const endpoint of ['introspection', 'token'] as const) {
      const ip = freshIp();
      for (let i = 0; i < 3; i++) expect((await call[endpoint](latch.url, `${freshIp()}, ${ip}`)).status).toBe(401);
      expectRefused(await call[endpoint](latch.url, `${freshIp()}, ${ip}`), 'address');
    }
  });

  it('ignores X-Forwarded-For when no proxy is trusted', async () => {
    const direct = await start(BY_ADDRESS);
    for (let i = 0; i < 3; i++) expect((await call.introspection(direct.url, freshIp())).status).toBe(401);
    expectRefused(await call.introspection(direct.url, freshIp()), 'address');
  });

  it('counts the addresses of one IPv6 /64 together', async () => {
    for (const ip of ['2001:db8:7:7::1', '2001:db8:7:7:0:0:0:2', '2001:db8:7:7:ffff:1:2:3']) expect((await call.introspection(latch.url, ip)).status).toBe(401);
    expectRefused(await call.introspection(latch.url, '2001:db8:7:7::99'), 'address');
    expect((await call.introspection(latch.url, '2001:db8:7:8::1')).status).toBe(401);
  });
});

describe('per-address budgets of the browser routes (/auth, /session/end)', () => {
  let latch: TestLatch;
  beforeAll(async () => {
    latch = await start({ authorization: { perAddress: 3 }, endSession: { perAddress: 2 } }, { trustedProxies: 1 });
  });

  const authorize = (ip: string, accept = 'text/html') => {
    const url = new URL(`${latch.url}/auth`);
    url.search = new URLSearchParams({
      client_id: 'web', response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:9/callback',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
    }).toString();
    return fetch(url, { redirect: 'manual', headers: { 'x-forwarded-for': ip, accept } });
  };
  const interactions = async () => (await redis.client.keys(`${latch.store.keys.prefix}i:*`)).length;

  it('GET /auth: answers 429 with Retry-After, a plain page for browsers and JSON otherwise, once an address spent its budget, storing nothing more; other addresses go on', async () => {
    const ip = freshIp();
    for (let i = 0; i < 3; i++) expect((await authorize(ip)).status).toBe(303);
    const stored = await interactions();
    const page = await authorize(ip);
    expect(page.status).toBe(429);
    expect(Number(page.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/too many requests from this address, retry after \d+ s/);
    const json = await authorize(ip, 'application/json');
    expectRefused({ status: json.status, headers: json.headers, json: (await json.json()) as Record<string, unknown> }, 'address');
    expect(await interactions()).toBe(stored);
    expect((await authorize(freshIp())).status).toBe(303);
  });

  it('/session/end: answers 429 once an address spent its budget, and not to other addresses', async () => {
    const ip = freshIp();
    const endSession = (from: string) => fetch(`${latch.url}/session/end`, { redirect: 'manual', headers: { 'x-forwarded-for': from, accept: 'application/json' } });
    for (let i = 0; i < 2; i++) expect((await endSession(ip)).status).toBe(200);
    const refused = await endSession(ip);
    expectRefused({ status: refused.status, headers: refused.headers, json: (await refused.json()) as Record<string, unknown> }, 'address');
    const confirm = await fetch(`${latch.url}/session/end/confirm`, { method: 'POST', redirect: 'manual', headers: { 'x-forwarded-for': ip, accept: 'application/json' } });
    expect(confirm.status).toBe(429);
    expect((await endSession(freshIp())).status).toBe(200);
  });
});

describe('rate limits per client', () => {
  let latch: TestLatch;
  beforeAll(async () => {
    latch = await start(BY_CLIENT, { trustedProxies: 1 });
  });

  it.each([
    ['POST /introspect', 'introspection', apiA, apiB, undefined],
    ['POST /token', 'token', svc, admin, 'admin:read'],
    ['POST /revoke', 'revocation', web, otherWeb, undefined],
  ] as const)('%s: refuses a client over its budget from any address, while another client is served', async (_name, endpoint, busy, other, otherScope) => {
    const send = (credentials: Credentials, ip = freshIp()) =>
      endpoint === 'token' ? call.token(latch.url, ip, credentials, credentials === other ? otherScope : undefined) : call[endpoint](latch.url, ip, credentials);
    for (let i = 0; i < 4; i++) {
      expect((await send(busy)).status).toBe(200);
      if (i < 3) expect((await send(other)).status).toBe(200);
    }
    expectRefused(await send(busy), 'client');
    expectRefused(await send(busy), 'client');
    expect((await send(other)).status).toBe(200);
  });
});

describe('forged client credentials', () => {
  let latch: TestLatch;
  beforeAll(async () => {
    latch = await start(BY_CLIENT, { trustedProxies: 1 });
  });

  it('POST /introspect: requests naming a client with a wrong secret do not spend its budget', async () => {
    for (let i = 0; i < 10; i++) expect((await call.introspection(latch.url, freshIp(), ['api-a', 'wrong-secret'])).status).toBe(401);
    for (let i = 0; i < 5; i++) {
      const post = await postForm(`${latch.url}/introspect`, { token: 'x', client_id: 'api-a', client_secret: 'wrong-secret' });
      expect(post.status).toBe(401);
    }
    for (let i = 0; i < 4; i++) expect((await call.introspection(latch.url, freshIp(), apiA)).status).toBe(200);
    expectRefused(await call.introspection(latch.url, freshIp(), apiA), 'client');
  });

  it('POST /token and POST /revoke: neither a wrong secret nor an unproven client_id spends the named client’s budget', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await call.token(latch.url, freshIp(), ['svc', 'wrong-secret'])).status).toBe(401);
      expect((await call.revocation(latch.url, freshIp(), ['web', 'wrong-secret'])).status).toBe(401);
    }
    // oidc-provider records the client an (unsigned) attestation names before it refuses the request.
    const attestation = `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ sub: 'svc' })).toString('base64url')}.`;
    for (let i = 0; i < 5; i++) {
      const claim = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', client_id: 'svc' }, undefined, { 'oauth-client-attestation': attestation });
      expect(claim.json).toEqual({ error: 'invalid_request', error_description: 'client authentication must only be provided using one mechanism' });
    }
    for (let i = 0; i < 4; i++) {
      expect((await call.token(latch.url, freshIp(), svc)).status).toBe(200);
      expect((await call.revocation(latch.url, freshIp(), web)).status).toBe(200);
    }
    expectRefused(await call.token(latch.url, freshIp(), svc), 'client');
    expectRefused(await call.revocation(latch.url, freshIp(), web), 'client');
  });
});

describe('the admin API', () => {
  async function adminBearer(url: string, ip: string): Promise<string> {
    const { json } = await postForm(`${url}/token`, { grant_type: 'client_credentials', resource: 'urn:latch:admin', scope: 'admin:read admin:write' }, admin, { 'x-forwarded-for': ip });
    return json!.access_token as string;
  }
  const get = (url: string, ip: string, token?: string) =>
    fetch(`${url}/admin/accounts/alice`, { headers: { 'x-forwarded-for': ip, ...(token ? { authorization: `Bearer ${token}` } : {}) } }).then(async (r) => ({ status: r.status, headers: r.headers, json: (await r.json()) as Record<string, unknown> }));

  it('answers 429 once an address spent its budget, with or without a valid token, and not to other addresses', async () => {
    const latch = await start({ admin: { perClient: 1000, perAddress: 3 } }, { trustedProxies: 1 });
    const ip = freshIp();
    const token = await adminBearer(latch.url, freshIp());
    expect((await get(latch.url, ip)).status).toBe(401);
    expect((await get(latch.url, ip, 'not-a-token')).status).toBe(401);
    expect((await get(latch.url, ip, token)).status).toBe(200);
    expectRefused(await get(latch.url, ip, token), 'address');
    expect((await get(latch.url, freshIp(), token)).status).toBe(200);
  });

  it('answers 429 once an authenticated admin client spent its budget, from any address', async () => {
    const latch = await start({ admin: { perClient: 2, perAddress: 1000 } }, { trustedProxies: 1 });
    const token = await adminBearer(latch.url, freshIp());
    // Requests without a valid token do not spend the client's budget.
    for (let i = 0; i < 3; i++) expect((await get(latch.url, freshIp(), 'forged')).status).toBe(401);
    expect((await get(latch.url, freshIp(), token)).status).toBe(200);
    expect((await get(latch.url, freshIp(), token)).status).toBe(200);
    expectRefused(await get(latch.url, freshIp(), token), 'client');
  });
});

describe('windows and metrics', () => {
  it('serves an address again once its window has passed', async () => {
    const latch = await start({ windowSeconds: 1, introspection: { perClient: 0, perAddress: 2 } }, { trustedProxies: 1 });
    const ip = freshIp();
    let refused: Answer | undefined;
    for (let i = 0; i < 20 && !refused; i++) {
      const answer = await call.introspection(latch.url, ip);
      if (answer.status === 429) refused = answer;
      else expect(answer.status).toBe(401);
    }
    expectRefused(refused!, 'address', 1);
    await eventually(async () => (await call.introspection(latch.url, ip, apiA)).status === 200);
  });

  it('turns a limit off with 0', async () => {
    const latch = await start({ introspection: { perClient: 0, perAddress: 0 } });
    for (let i = 0; i < 30; i++) expect((await call.introspection(latch.url, '', apiA)).status).toBe(200);
  });

  it('counts refusals in latch_rate_limited_total by endpoint and scope', async () => {
    const latch = await start({ introspection: { perClient: 1, perAddress: 100 }, token: { perClient: 100, perAddress: 1 } }, { trustedProxies: 1 });
    await call.introspection(latch.url, freshIp(), apiA);
    await call.introspection(latch.url, freshIp(), apiA);
    const ip = freshIp();
    await call.token(latch.url, ip);
    await call.token(latch.url, ip);
    await call.token(latch.url, ip);
    const text = await (await fetch(`${latch.opsUrl}/metrics`)).text();
    expect(text).toContain('latch_rate_limited_total{endpoint="introspection",scope="client"} 1\n');
    expect(text).toContain('latch_rate_limited_total{endpoint="token",scope="address"} 2\n');
    expect(text).toContain('latch_http_requests_total{route="/introspect",method="POST",status="429"} 1\n');
    expect(text).toContain('latch_http_requests_total{route="/token",method="POST",status="429"} 2\n');
  });
});
