import { startLatch, type TestLatch } from '../support/latch-server.js';
import { adminCall, adminToken } from '../support/admin.js';
import * as oidc from 'openid-client';
import { dpopHandle, dpopKey } from '../support/dpop.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { ADMIN_API, SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;
/** RFC 9449 §7.1: the admin API accepts DPoP too, and says so beside its Bearer challenge. */
const DPOP = 'DPoP realm="latch-admin", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"';
let writer: string;
let reader: string;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  writer = await adminToken(latch.url);
  reader = await adminToken(latch.url, 'auditor');
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('admin API authentication (RFC 6750)', () => {
  it('answers a call without a token with 401 and a bare Bearer challenge', async () => {
    const { status, headers, json } = await adminCall(latch.url, 'GET', '/admin/accounts/alice');
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe(`Bearer realm="latch-admin", ${DPOP}`);
    expect(json).toEqual({ error_description: 'an access token is required' });
  });

  it('answers an unknown or revoked token with 401 invalid_token', async () => {
    const { status, headers, json } = await adminCall(latch.url, 'GET', '/admin/accounts/alice', 'x'.repeat(43));
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toMatch(/^Bearer realm="latch-admin", error="invalid_token"/);
    expect(json).toMatchObject({ error: 'invalid_token' });
  });

  it('answers a user token for another API with 401 invalid_token (wrong audience)', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    expect((await adminCall(latch.url, 'GET', '/admin/accounts/alice', tokens.access_token)).status).toBe(401);
  });

  it('answers a token without admin scopes with 403 insufficient_scope', async () => {
    const { json: issued } = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', resource: ADMIN_API }, ['security-admin', SECRETS.admin]);
    const { status, headers, json } = await adminCall(latch.url, 'GET', '/admin/accounts/alice', issued!.access_token as string);
    expect(status).toBe(403);
    expect(headers.get('www-authenticate')).toBe(`Bearer realm="latch-admin", error="insufficient_scope", error_description="this call needs the admin:read scope", scope="admin:read", ${DPOP}`);
    expect(json).toMatchObject({ error: 'insufficient_scope' });
  });

  it('lets the read scope read but not write', async () => {
    expect((await adminCall(latch.url, 'GET', '/admin/accounts/alice', reader)).json).toMatchObject({ username: 'alice', sub: 'sub-alice' });
    const write = await adminCall(latch.url, 'POST', '/admin/accounts/alice/revoke', reader, { reason: 'x' });
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toContain('scope="admin:write"');
  });

  it('refuses a token in the query string', async () => {
    const { status, json } = await adminCall(latch.url, 'GET', `/admin/accounts/alice?access_token=${writer}`);
    expect(status).toBe(400);
    expect(json).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses a DPoP-bound token presented as a bearer token with 401 invalid_token (RFC 9449 §7.2)', async () => {
    const admin = await clientFor(latch.url, 'security-admin', SECRETS.admin);
    const { access_token: token } = await oidc.clientCredentialsGrant(admin, { scope: 'admin:read', resource: ADMIN_API }, { DPoP: dpopHandle(admin, await dpopKey()) });
    const { status, headers, json } = await adminCall(latch.url, 'GET', '/admin/accounts/alice', token);
    const description = 'the access token is bound to a DPoP key: it cannot be used as a bearer token';
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe(`Bearer realm="latch-admin", error="invalid_token", error_description="${description}", ${DPOP}`);
    expect(json).toEqual({ error: 'invalid_token', error_description: description });
  });

  it('cuts off an admin client the moment its token is revoked', async () => {
    const token = await adminToken(latch.url);
    expect((await adminCall(latch.url, 'GET', '/admin/accounts/alice', token)).status).toBe(200);
    await postForm(`${latch.url}/revoke`, { token }, ['security-admin', SECRETS.admin]);
    expect((await adminCall(latch.url, 'GET', '/admin/accounts/alice', token)).status).toBe(401);
  });
});

describe('admin API bodies and errors', () => {
  it.each([
    [{}, 'reason: is required'],
    [{ reason: '' }, 'reason: is required'],
    [{ reason: 'ok', extra: 1 }, 'body: unknown field(s) extra'],
    [{ reason: 7 }, 'reason: must be a string'],
  ])('answers 400 naming the field for %j', async (body, description) => {
    const { status, json } = await adminCall(latch.url, 'POST', '/admin/accounts/bob/revoke', writer, body);
    expect(status).toBe(400);
    expect(json).toEqual({ error: 'invalid_request', error_description: expect.stringContaining(description) });
  });

  it('answers 400 for a body that is not JSON', async () => {
    const response = await fetch(`${latch.url}/admin/accounts/bob/revoke`, {
      method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' }, body: '{nope',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'invalid_request', error_description: 'the body is not valid JSON' });
  });

  it('answers 404 for an unknown account, client or endpoint, and 405 for a wrong method', async () => {
    expect((await adminCall(latch.url, 'GET', '/admin/accounts/nobody', reader)).status).toBe(404);
    expect((await adminCall(latch.url, 'POST', '/admin/clients/ghost/revoke', writer, { reason: 'x' })).status).toBe(404);
    expect((await adminCall(latch.url, 'GET', '/admin/nothing', reader)).status).toBe(404);
    const wrong = await adminCall(latch.url, 'GET', '/admin/accounts/alice/revoke', reader);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });

  it('serves its OpenAPI document', async () => {
    const { status, json } = await adminCall(latch.url, 'GET', '/admin/openapi.json');
    expect(status).toBe(200);
    expect(json).toMatchObject({ openapi: '3.1.0', paths: expect.objectContaining({ '/admin/accounts/{username}/revoke': expect.any(Object) }) });
  });
});

describe('audit log', () => {
  it('records every write with actor, action, target, reason, count and time, readable through the API', async () => {
    await logIn(latch.url, await webClient(latch.url), { username: 'bob', password: 'bob-password-12' });
    const before = Date.now();
    const revoke = await adminCall(latch.url, 'POST', '/admin/accounts/bob/revoke', writer, { reason: 'stolen phone' });
    expect(revoke.status).toBe(200);
    await adminCall(latch.url, 'POST', '/admin/accounts/bob/disable', writer, { reason: 'investigation' });
    await adminCall(latch.url, 'POST', '/admin/accounts/bob/enable', writer, { reason: 'cleared' });
    const { json } = await adminCall(latch.url, 'GET', '/admin/audit?limit=1000', reader);
    const entries = (json!.entries as Array<Record<string, unknown>>).filter((e) => e.target === 'account:bob');
    expect(entries.map((e) => e.action)).toEqual(['revoke-user', 'disable-account', 'enable-account']);
    expect(entries[0]).toEqual({
      id: revoke.json!.audit_id, actor: 'security-admin', action: 'revoke-user', target: 'account:bob',
      // The records under bob's grant: access token, refresh token and the (consumed) code.
      reason: 'stolen phone', count: 3, at: expect.any(Number),
    });
    expect(entries[0]!.at as number).toBeGreaterThanOrEqual(before);
    const after = await adminCall(latch.url, 'GET', `/admin/audit?after=${entries[1]!.id}`, reader);
    expect((after.json!.entries as Array<{ action: string }>).map((e) => e.action)).toEqual(['enable-account']);
    expect((await adminCall(latch.url, 'GET', '/admin/audit?limit=0', reader)).status).toBe(400);
  });
});
