import { request } from 'node:http';
import { resolveRoute } from '../../src/provider/routes.js';
import { startLimited, freshIp } from '../rate-limit/support.js';
import type { TestLatch } from '../support/latch-server.js';
import { postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

/**
 * oidc-provider's router folds case and ignores a trailing slash; Latch's safeguards key on the
 * route. Every variant of a route's path is refused by the gate before anything answers it.
 */
let redis: TestRedis;
let latch: TestLatch;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLimited(redis.url, { token: { perClient: 0, perAddress: 5 } }, { trustedProxies: 1 });
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

const notFound = (name: string, path: string) => ({
  error: 'invalid_request',
  error_description: `no endpoint at this path; the ${name} endpoint is ${path} (paths are case-sensitive, without a trailing slash)`,
});

/** One request with a raw request target (absolute-form included), through node:http. */
function send(method: string, target: string, body?: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; json?: unknown; headers: Record<string, unknown> }>((resolve, reject) => {
    const { port } = new URL(latch.url);
    const req = request({ host: '127.0.0.1', port, method, path: target, headers: body === undefined ? headers : { 'content-type': 'application/x-www-form-urlencoded', ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, json, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const svcBasic = { authorization: `Basic ${Buffer.from(`svc:${SECRETS.svc}`).toString('base64')}` };

describe('canonical routes', () => {
  it.each([
    ['POST', '/TOKEN', 'token', '/token'],
    ['POST', '/token/', 'token', '/token'],
    ['POST', '/Revoke', 'revocation', '/revoke'],
    ['POST', '/revoke/', 'revocation', '/revoke'],
    ['POST', '/introspect/', 'introspection', '/introspect'],
    ['POST', '/INTROSPECT', 'introspection', '/introspect'],
    ['GET', '/Me', 'userinfo', '/me'],
    ['GET', '/AUTH', 'authorization', '/auth'],
    ['GET', '/auth/', 'authorization', '/auth'],
    ['GET', '/AUTH/some-uid', 'resume', '/auth/:uid'],
    ['GET', '/JWKS', 'jwks', '/jwks'],
    ['GET', '/.well-known/OPENID-configuration', 'discovery', '/.well-known/openid-configuration'],
    ['GET', '/Session/End', 'end session', '/session/end'],
    ['POST', '/session/end/Confirm', 'end session confirm', '/session/end/confirm'],
    ['POST', '/Request', 'pushed authorization request', '/request'],
  ])('%s %s: 404 invalid_request naming the canonical path, answered by no route', async (method, path, name, canonical) => {
    const answer = await send(method, path, method === 'POST' ? 'grant_type=client_credentials&scope=a:read&token=x' : undefined, method === 'POST' ? svcBasic : {});
    expect(answer.status).toBe(404);
    expect(answer.json).toEqual(notFound(name, canonical));
    expect(answer.headers['cache-control']).toBe('no-store');
  });

  it('refuses an absolute-form request target the same way, and serves its canonical form', async () => {
    expect((await send('POST', `${latch.url}/Token`, 'grant_type=client_credentials&scope=a:read', svcBasic)).json).toEqual(notFound('token', '/token'));
    const served = await send('POST', `${latch.url}/token`, 'grant_type=client_credentials&scope=a:read', svcBasic);
    expect(served.status).toBe(200);
    expect(served.json).toMatchObject({ token_type: 'Bearer', scope: 'a:read' });
  });

  it('gives a /TOKEN brute force no answer and no bypass: /TOKEN is 404, /token is still 429 at the budget', async () => {
    const ip = freshIp();
    const guess = () => postForm(`${latch.url}/TOKEN`, { grant_type: 'client_credentials' }, ['svc', 'guessed-secret'], { 'x-forwarded-for': ip });
    for (let i = 0; i < 20; i++) expect((await guess()).status).toBe(404);
    const real = () => postForm(`${latch.url}/token`, { grant_type: 'client_credentials' }, ['svc', 'guessed-secret'], { 'x-forwarded-for': ip });
    for (let i = 0; i < 5; i++) expect((await real()).status).toBe(401);
    expect((await real()).status).toBe(429);
  });

  it('labels variants "other" in the metrics, never as the route', async () => {
    await send('POST', '/Revoke', 'token=x', svcBasic);
    const text = await (await fetch(`${latch.opsUrl}/metrics`)).text();
    expect(text).toMatch(/latch_http_requests_total\{route="other",method="POST",status="404"\} \d+/);
    expect(text).not.toMatch(/latch_http_requests_total\{route="\/revoke",method="POST",status="404"\}/);
  });

  it('resolves paths the way oidc-provider’s router does', () => {
    expect(resolveRoute('/token')).toMatchObject({ name: 'token', exact: true });
    expect(resolveRoute('/tOkEn/')).toMatchObject({ name: 'token', exact: false });
    // One trailing slash only, no decoding, no other spelling.
    for (const path of ['/token//', '/%74oken', '//token', '/token/x', '/tokens', '/auth/', '/auth//']) {
      expect(resolveRoute(path)?.exact ?? false).toBe(false);
    }
    expect(resolveRoute('/token//')).toBeUndefined();
    expect(resolveRoute('/%74oken')).toBeUndefined();
    // A non-ASCII letter never folds into an ASCII one (oidc-provider's fold): 'ſ' upper-cases to 'S'.
    expect(resolveRoute('/seſſion/end')).toBeUndefined();
    expect(resolveRoute('/auth/abc')).toMatchObject({ name: 'resume', exact: true });
    expect(resolveRoute('/Auth/abc/')).toMatchObject({ name: 'resume', exact: false });
    expect(resolveRoute('/admin/accounts/alice')).toMatchObject({ name: 'admin', exact: true });
    expect(resolveRoute('/ADMIN/accounts/alice')).toBeUndefined();
  });

  it('gives the same answer for a path resolved before, from its memo, and the answer cannot be changed', () => {
    const first = resolveRoute('/introspect');
    expect(resolveRoute('/introspect')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(resolveRoute('/Introspect')).toMatchObject({ name: 'introspection', exact: false });
    expect(resolveRoute('/Introspect')).toMatchObject({ name: 'introspection', exact: false });
    expect(resolveRoute('/nowhere')).toBeUndefined();
    expect(resolveRoute('/nowhere')).toBeUndefined();
    // Past its bound (1024 paths) the memo starts over: answers stay the same.
    for (let i = 0; i < 1100; i++) expect(resolveRoute(`/auth/uid-${i}`)).toMatchObject({ name: 'resume', exact: true });
    expect(resolveRoute('/introspect')).toEqual({ name: 'introspection', path: '/introspect', exact: true, label: '/introspect' });
  });
});

describe('discovery', () => {
  it('advertises exactly the client authentication methods and algorithms Latch registers and verifies', async () => {
    const metadata = (await (await fetch(`${latch.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    const algs = ['RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA'];
    expect(metadata).toMatchObject({
      token_endpoint: `${latch.url}/token`,
      introspection_endpoint: `${latch.url}/introspect`,
      revocation_endpoint: `${latch.url}/revoke`,
    });
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']);
    expect(metadata.revocation_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']);
    expect(metadata.introspection_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'private_key_jwt']);
    expect(metadata.token_endpoint_auth_signing_alg_values_supported).toEqual(algs);
    expect(metadata.revocation_endpoint_auth_signing_alg_values_supported).toEqual(algs);
    expect(metadata.introspection_endpoint_auth_signing_alg_values_supported).toEqual(algs);
    // The test keys hold one RSA key, for RS256 only: what Latch can sign introspection answers with.
    expect(metadata.introspection_signing_alg_values_supported).toEqual(['RS256']);
  });
});
