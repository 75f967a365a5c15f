import fc from 'fast-check';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { adminToken } from '../support/admin.js';
import { postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

/**
 * Property-based fuzzing of every endpoint: whatever the body (random, malformed, huge, empty),
 * headers, encoding, query or method, and with or without valid credentials, Latch never answers
 * 5xx, never shows a stack trace, and never says `active:true` about a token it did not issue.
 */
let redis: TestRedis;
let latch: TestLatch;

const PATHS = [
  '/introspect', '/revoke', '/token', '/auth', '/me', '/session/end', '/session/end/confirm', '/jwks', '/.well-known/openid-configuration',
  '/interaction/abc/login', '/interaction/abc/confirm', '/interaction/abc', '/account', '/account/devices', '/account/callback',
  '/account/logout-all', '/account/devices/AAAAAAAAAAAAAAAAAAAAAA/end', '/admin/accounts/alice', '/admin/accounts/alice/revoke',
  '/admin/accounts/alice/roles', '/admin/accounts/alice/sessions', '/admin/accounts/alice/clients/web/revoke', '/admin/clients/web/revoke',
  '/admin/tokens/revoke', '/admin/audit', '/admin/jobs/x', '/admin/openapi.json', '/healthz', '/readyz', '/metrics', '/assets/latch.css', '/nope',
];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
const TYPES = ['application/x-www-form-urlencoded', 'application/json', 'text/plain', 'multipart/form-data; boundary=x', '', 'application/x-www-form-urlencoded; charset=latin1'];
const PARAMS = ['token', 'token_type_hint', 'client_id', 'client_secret', 'grant_type', 'refresh_token', 'code', 'scope', 'resource', 'client_assertion', 'client_assertion_type', 'reason'];

const value = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ minLength: 200, maxLength: 5000 }), fc.constant(''), fc.constant('%'), fc.constant('a.b.c'));
const form = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PARAMS), fc.string()), value), { maxLength: 8 }).map((pairs) =>
  pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'),
);
const rawBody = fc.oneof(
  form, fc.string(), fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b).toString('latin1')), fc.json(), fc.constant(''),
  // Past every body limit (56 KiB for OAuth endpoints): refused, never a crash.
  fc.constantFrom(60_000, 1_000_000).map((n) => `token=${'a'.repeat(n)}`),
);
const query = fc.oneof(fc.constant(''), form.map((q) => `?${q}`));
let adminBearer = '';
const authorization = fc.oneof(
  fc.constant(undefined),
  fc.constant(`Basic ${Buffer.from(`api-a:${SECRETS.apiA}`).toString('base64')}`),
  fc.string().map((s) => `Basic ${s}`),
  fc.string().map((s) => `Bearer ${s}`),
  fc.base64String().map((s) => `Basic ${s}`),
  fc.string(),
  // Valid credentials, so the fuzz reaches the parsing behind authentication.
  fc.constant(`Basic ${Buffer.from(`web:${SECRETS.web}`).toString('base64')}`),
  fc.constant('admin'),
);

async function send(path: string, method: string, type: string, body: string, auth: string | undefined, accept: string) {
  const headers: Record<string, string> = { accept };
  if (type) headers['content-type'] = type;
  if (auth) headers.authorization = auth === 'admin' ? `Bearer ${adminBearer}` : auth;
  const withBody = !['GET', 'HEAD'].includes(method);
  const response = await fetch(`${latch.url}${path}`, { method, headers, body: withBody ? body : undefined, redirect: 'manual' });
  return { status: response.status, text: await response.text() };
}

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  adminBearer = await adminToken(latch.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('fuzzing', () => {
  it('never answers 5xx or leaks a stack trace, whatever the request', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PATHS),
        query,
        // Mostly the methods the routes take, so the fuzz gets past method checks.
        fc.oneof({ arbitrary: fc.constantFrom('GET', 'POST', 'PUT'), weight: 4 }, { arbitrary: fc.constantFrom(...METHODS), weight: 1 }),
        fc.constantFrom(...TYPES),
        rawBody,
        authorization,
        fc.constantFrom('application/json', 'text/html', '*/*', 'application/token-introspection+jwt'),
        async (path, search, method, type, body, auth, accept) => {
          let headerOk = true;
          for (const v of [auth ?? '']) if (/[^\t\x20-\x7e\x80-\xff]/.test(v)) headerOk = false;
          fc.pre(headerOk);
          const { status, text } = await send(`${path}${search}`, method, type, body, auth, accept);
          expect(status).toBeLessThan(500);
          expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);
        },
      ),
      { numRuns: 1000 },
    );
  }, 240_000);

  it('never says active:true for a token Latch did not issue', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.base64String(), fc.stringMatching(/^[A-Za-z0-9_-]{43}$/)), fc.constantFrom(undefined, 'access_token', 'refresh_token', 'x'), async (token, hint) => {
        const { status, json } = await postForm(`${latch.url}/introspect`, { token, ...(hint ? { token_type_hint: hint } : {}) }, ['api-a', SECRETS.apiA]);
        expect(status).toBeLessThan(500);
        if (status === 200) expect(json).toEqual({ active: false });
      }),
      { numRuns: 300 },
    );
  }, 120_000);
});
