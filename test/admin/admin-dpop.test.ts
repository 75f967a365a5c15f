import * as oidc from 'openid-client';
import { adminToken } from '../support/admin.js';
import { dpopHandle, dpopHeaders, dpopKey, proof, type DpopKey } from '../support/dpop.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { clientFor, parseJson } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { ADMIN_API, SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;
/** A second instance on the same Redis: a proof spent at one is spent at both. */
let peer: TestLatch;
let key: DpopKey;
let token: string;

const ALGS = 'algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"';
const PATH = '/admin/accounts/alice';

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  peer = await startLatch(redis.url, { config: latch.config });
  key = await dpopKey();
  const admin = await clientFor(latch.url, 'security-admin', SECRETS.admin);
  token = (await oidc.clientCredentialsGrant(admin, { scope: 'admin:read admin:write', resource: ADMIN_API }, { DPoP: dpopHandle(admin, key) })).access_token;
});
afterAll(async () => {
  await peer.close();
  await latch.close();
  await redis.close();
});

async function call(server: TestLatch, headers: Record<string, string>, method = 'GET', path = PATH) {
  const response = await fetch(`${server.url}${path}`, { method, headers });
  return { status: response.status, challenge: response.headers.get('www-authenticate'), json: parseJson(await response.text()) };
}

const refusal = (error: string, description: string) => ({
  status: 401,
  challenge: `DPoP realm="latch-admin", error="${error}", error_description="${description}", ${ALGS}, Bearer realm="latch-admin"`,
  json: { error, error_description: description },
});

describe('the admin API with DPoP-bound admin tokens (RFC 9449)', () => {
  it('answers a DPoP-bound token with a proof by its key', async () => {
    const { status, json } = await call(latch, await dpopHeaders(key, token, 'GET', `${latch.url}${PATH}`));
    expect(status).toBe(200);
    expect(json).toMatchObject({ username: 'alice' });
  });

  it('refuses a replayed proof, also at another instance', async () => {
    const headers = await dpopHeaders(key, token, 'GET', `${latch.url}${PATH}`);
    expect((await call(latch, headers)).status).toBe(200);
    expect(await call(latch, headers)).toEqual(refusal('invalid_dpop_proof', 'the DPoP proof was already used (its jti is spent)'));
    // Same issuer, same htu: the peer refuses the spent proof too.
    expect(await call(peer, headers)).toEqual(refusal('invalid_dpop_proof', 'the DPoP proof was already used (its jti is spent)'));
  });

  it('refuses the captured token without the key: with a proof by another key, and a proof for another call', async () => {
    expect(await call(latch, await dpopHeaders(await dpopKey(), token, 'GET', `${latch.url}${PATH}`))).toEqual(
      refusal('invalid_token', 'the DPoP proof is signed by another key than the one the access token is bound to'),
    );
    expect(await call(latch, await dpopHeaders(key, token, 'GET', `${latch.url}/admin/accounts/bob`))).toEqual(
      refusal('invalid_dpop_proof', 'the DPoP proof is for another URL (htu)'),
    );
    const forRead = await dpopHeaders(key, token, 'GET', `${latch.url}/admin/accounts/alice/revoke`);
    expect(await call(latch, { ...forRead, 'content-type': 'application/json' }, 'POST', '/admin/accounts/alice/revoke')).toEqual(
      refusal('invalid_dpop_proof', 'the DPoP proof is for another HTTP method (htm)'),
    );
  });

  it('refuses a missing or stale proof, and a bearer token sent with the DPoP scheme', async () => {
    expect(await call(latch, { authorization: `DPoP ${token}` })).toEqual(refusal('invalid_dpop_proof', 'the request has the DPoP scheme but no DPoP proof header'));
    const stale = await proof(key, { htm: 'GET', htu: `${latch.url}${PATH}`, token, iat: Math.floor(Date.now() / 1000) - 600 });
    expect(await call(latch, { authorization: `DPoP ${token}`, dpop: stale })).toEqual(
      refusal('invalid_dpop_proof', "the DPoP proof's iat is more than 60 s old or in the future (clock skew allowed: 15 s)"),
    );
    const plain = await adminToken(latch.url);
    expect(await call(latch, await dpopHeaders(key, plain, 'GET', `${latch.url}${PATH}`))).toEqual(
      refusal('invalid_token', 'the access token is not bound to a DPoP key: send it with the Bearer scheme'),
    );
  });

  it('answers a missing scope in the DPoP challenge', async () => {
    const reader = await clientFor(latch.url, 'auditor', SECRETS.auditor);
    const readOnly = (await oidc.clientCredentialsGrant(reader, { scope: 'admin:read', resource: ADMIN_API }, { DPoP: dpopHandle(reader, key) })).access_token;
    const path = '/admin/accounts/bob/revoke';
    const headers = { ...(await dpopHeaders(key, readOnly, 'POST', `${latch.url}${path}`)), 'content-type': 'application/json' };
    const response = await fetch(`${latch.url}${path}`, { method: 'POST', headers, body: JSON.stringify({ reason: 'test' }) });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toBe(
      `DPoP realm="latch-admin", error="insufficient_scope", error_description="this call needs the admin:write scope", scope="admin:write", ${ALGS}, Bearer realm="latch-admin"`,
    );
  });
});
