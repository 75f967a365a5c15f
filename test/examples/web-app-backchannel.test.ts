import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import { createWebApp } from '../../examples/web-app/app.js';
import { freePort, startRedis, type TestRedis } from '../support/redis-server.js';
import { RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { startLatchWith, type RsTestLatch } from '../support/rs-latch.js';

/**
 * The example web app's back-channel logout endpoint validates logout tokens as OIDC Back-Channel
 * Logout 1.0 §2.6 asks (signature against Latch's JWKS, typ, iss, aud, iat/exp, events, sub or
 * sid, no nonce, jti replay) and answers 200, or 400 invalid_request (§2.8). Tokens here are signed
 * with Latch's own test key, then spoiled one claim at a time.
 */
let redis: TestRedis;
let latch: RsTestLatch;
let app: Server;
let appUrl: string;
let latchKey: JWK;

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

beforeAll(async () => {
  redis = await startRedis();
  const port = await freePort();
  appUrl = `http://127.0.0.1:${port}`;
  latch = await startLatchWith(redis.url, (await rsConfig({ appOrigin: appUrl })).file);
  latchKey = latch.config.secrets.jwks.keys[0] as JWK;
  const web = await createWebApp({ issuer: latch.url, clientId: 'demo-web', clientSecret: RS_SECRETS.demoWeb, appUrl, apiUrl: 'http://127.0.0.1:9' });
  app = createServer(web.callback());
  await new Promise<void>((resolve) => app.listen(port, '127.0.0.1', resolve));
});
afterAll(async () => {
  app?.closeAllConnections();
  await new Promise<void>((resolve) => app.close(() => resolve()));
  await latch?.close();
  await redis?.close();
});

/** A logout token as Latch signs one, with `claims` overriding (undefined removes a claim) and header `typ`. */
async function logoutToken(claims: Record<string, unknown> = {}, options: { typ?: string; key?: JWK } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { iss: latch.url, aud: 'demo-web', iat: now, exp: now + 120, jti: randomBytes(12).toString('base64url'), sub: 'sub-alice', sid: 'a-session', events: { [EVENT]: {} }, ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  const key = options.key ?? latchKey;
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: 'RS256', typ: options.typ ?? 'logout+jwt', kid: key.kid }).sign(await importJWK(key, 'RS256'));
}

async function post(body: string, contentType = 'application/x-www-form-urlencoded') {
  const response = await fetch(`${appUrl}/backchannel-logout`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await response.text();
  return { status: response.status, cacheControl: response.headers.get('cache-control'), json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

const form = (token: string) => new URLSearchParams({ logout_token: token }).toString();

describe("examples/web-app's back-channel logout endpoint", () => {
  it('answers 200 (no-store) to a valid logout token, and 200 again to its replay (same jti: delivery is at-least-once)', async () => {
    const token = await logoutToken();
    expect(await post(form(token))).toEqual({ status: 200, cacheControl: 'no-store', json: undefined });
    expect(await post(form(token))).toEqual({ status: 200, cacheControl: 'no-store', json: undefined });
  });

  it('accepts a token with only sub, or only sid', async () => {
    expect((await post(form(await logoutToken({ sid: undefined })))).status).toBe(200);
    expect((await post(form(await logoutToken({ sub: undefined })))).status).toBe(200);
  });

  const other = generateKeyPair('RS256', { extractable: true }).then(async ({ privateKey }) => ({ ...(await exportJWK(privateKey)), kid: 'test-key' }));

  it.each<[string, () => Promise<string>, RegExp]>([
    ['signed by another key (same kid)', async () => logoutToken({}, { key: await other }), /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/],
    ['an ID token (typ JWT) replayed as a logout token', () => logoutToken({}, { typ: 'JWT' }), /ERR_JWT_CLAIM_VALIDATION_FAILED.*typ/],
    ['for another client (aud)', () => logoutToken({ aud: 'other-app' }), /ERR_JWT_CLAIM_VALIDATION_FAILED.*aud/],
    ['from another issuer', () => logoutToken({ iss: 'https://evil.example' }), /ERR_JWT_CLAIM_VALIDATION_FAILED.*iss/],
    ['expired', () => logoutToken({ iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 }), /ERR_JWT_EXPIRED/],
    ['without iat', () => logoutToken({ iat: undefined }), /ERR_JWT_CLAIM_VALIDATION_FAILED.*iat/],
    ['without jti', () => logoutToken({ jti: undefined }), /ERR_JWT_CLAIM_VALIDATION_FAILED.*jti/],
    ['without events', () => logoutToken({ events: undefined }), /ERR_JWT_CLAIM_VALIDATION_FAILED.*events/],
    ['with an events claim lacking the back-channel logout member', () => logoutToken({ events: { 'https://other/event': {} } }), /events must have/],
    ['with the member not an object', () => logoutToken({ events: { [EVENT]: 'yes' } }), /events must have/],
    ['with a nonce (an ID token in disguise)', () => logoutToken({ nonce: 'n-0S6_WzA2Mj' }), /must not carry a nonce/],
    ['with neither sub nor sid', () => logoutToken({ sub: undefined, sid: undefined }), /names a sub or a sid/],
  ])('answers 400 invalid_request to a token %s', async (_what, make, description) => {
    const response = await post(form(await make()));
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(description) });
  });

  it('answers 400 to a request without exactly one logout_token, or not form-encoded', async () => {
    const token = await logoutToken();
    expect((await post('')).json).toEqual({ error: 'invalid_request', error_description: 'exactly one logout_token is required' });
    expect((await post(`${form(token)}&${form(token)}`)).json).toEqual({ error: 'invalid_request', error_description: 'exactly one logout_token is required' });
    expect((await post(JSON.stringify({ logout_token: token }), 'application/json')).json).toEqual({
      error: 'invalid_request',
      error_description: 'send logout_token as application/x-www-form-urlencoded',
    });
    expect((await post(form('not.a.jwt'))).status).toBe(400);
  });
});
