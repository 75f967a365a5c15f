import * as oidc from 'openid-client';
import { parseFileConfig } from '../../src/config/load.js';
import { dpopHandle, dpopHeaders, dpopKey, proof, type DpopKey } from '../support/dpop.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { clientFor, logIn, postForm } from '../support/oauth.js';
import { storedPayload } from '../support/records.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A, SECRETS, testFileConfig } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;
/** A second instance on the same Redis, with the same keys (nonce secret included). */
let peer: TestLatch;
const apiA: [string, string] = ['api-a', SECRETS.apiA];
const svc: [string, string] = ['svc', SECRETS.svc];
const BOUND_SECRET = 'svc-bound-secret-0123456789abcdef0123';
const REPLAYED = 'the DPoP proof was already used (its jti is spent): make a new proof for every request';

/** testFileConfig() plus a machine client that must use DPoP (dpop_bound_access_tokens). */
function dpopFileConfig(requireNonce: 'public' | 'all' = 'public') {
  const base = testFileConfig();
  return parseFileConfig({
    ...base,
    dpop: { requireNonce },
    clients: [
      ...base.clients,
      { client_id: 'svc-bound', client_secret: BOUND_SECRET, grant_types: ['client_credentials'], scope: 'a:read', resources: [API_A], dpop_bound_access_tokens: true },
    ],
  });
}

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url, { file: dpopFileConfig() });
  peer = await startLatch(redis.url, { config: latch.config });
});
afterAll(async () => {
  await peer.close();
  await latch.close();
  await redis.close();
});

const introspect = async (token: string) => (await postForm(`${latch.url}/introspect`, { token }, apiA)).json!;

/** A client-credentials request of `svc` at `server` with the given DPoP proof header. */
const machineToken = (server: TestLatch, dpop: string | undefined, basic: [string, string] = svc) =>
  postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'a:read', resource: API_A }, basic, dpop === undefined ? {} : { dpop });

const tokenProof = (key: DpopKey, server: TestLatch = latch, claims: Partial<Parameters<typeof proof>[1]> = {}) => proof(key, { htm: 'POST', htu: `${server.url}/token`, ...claims });

describe('DPoP at the authorization server (RFC 9449)', () => {
  it('advertises the proof algorithms it accepts in discovery', async () => {
    const metadata = (await (await fetch(`${latch.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.dpop_signing_alg_values_supported).toEqual(['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256']);
  });

  it('binds a client-credentials token to the proof key: token_type DPoP, and introspection says cnf.jkt and token_type DPoP', async () => {
    for (const alg of ['ES256', 'EdDSA', 'PS256', 'RS256']) {
      const key = await dpopKey(alg);
      const config = await clientFor(latch.url, 'svc', SECRETS.svc);
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'a:read', resource: API_A }, { DPoP: dpopHandle(config, key) });
      expect(tokens.token_type).toBe('dpop');
      expect(await introspect(tokens.access_token)).toMatchObject({ active: true, client_id: 'svc', aud: API_A, scope: 'a:read', token_type: 'DPoP', cnf: { jkt: key.jkt } });
    }
  });

  it('keeps issuing bearer tokens to a client that sends no proof', async () => {
    const { status, json } = await machineToken(latch, undefined);
    expect(status).toBe(200);
    expect(json!.token_type).toBe('Bearer');
    const answer = await introspect(json!.access_token as string);
    expect(answer).toMatchObject({ active: true, token_type: 'Bearer' });
    expect(answer).not.toHaveProperty('cnf');
  });

  it('refuses a replayed proof, also at another instance (its jti is spent in Redis)', async () => {
    const key = await dpopKey();
    const once = await tokenProof(key);
    expect((await machineToken(latch, once)).status).toBe(200);
    const again = await machineToken(latch, once);
    expect(again.status).toBe(400);
    expect(again.json).toEqual({ error: 'invalid_grant', error_description: REPLAYED });
    // The peer has another URL: a proof for it, replayed at the peer after its first use there.
    const forPeer = await tokenProof(key, peer);
    expect((await machineToken(peer, forPeer)).status).toBe(200);
    expect((await machineToken(peer, forPeer)).json).toEqual({ error: 'invalid_grant', error_description: REPLAYED });
  });

  it('gives exactly one of 8 concurrent token requests with the same proof a token, and refuses the others as replays', async () => {
    const key = await dpopKey();
    const once = await tokenProof(key);
    const results = await Promise.all(Array.from({ length: 8 }, () => machineToken(latch, once)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const refused of results.filter((r) => r.status !== 200)) {
      expect(refused.status).toBe(400);
      expect(refused.json).toEqual({ error: 'invalid_grant', error_description: REPLAYED });
    }
  });

  it('refuses a proof for another URL, another method, a symmetric or unlisted algorithm, or too old, with 400 invalid_dpop_proof', async () => {
    const key = await dpopKey();
    const cases: Array<[string, string]> = [
      [await tokenProof(key, latch, { htu: `${latch.url}/revoke` }), 'DPoP proof htu mismatch'],
      [await tokenProof(key, latch, { htm: 'GET' }), 'DPoP proof htm mismatch'],
      [await tokenProof(key, latch, { iat: Math.floor(Date.now() / 1000) - 3600 }), 'DPoP proof iat is not recent enough, use a DPoP nonce instead'],
      [await proof(await dpopKey('ES512'), { htm: 'POST', htu: `${latch.url}/token` }), 'invalid DPoP key binding'],
      ['not.a.jwt', 'invalid DPoP key binding'],
    ];
    for (const [dpop, description] of cases) {
      const { status, json, headers } = await machineToken(latch, dpop);
      expect({ status, json }).toEqual({ status: 400, json: { error: description.startsWith('DPoP proof iat') ? 'use_dpop_nonce' : 'invalid_dpop_proof', error_description: description } });
      if (description.startsWith('DPoP proof iat')) expect(headers.get('dpop-nonce')).toMatch(/^[\w-]{43}$/);
    }
  });

  it('asks a public client for its nonce (use_dpop_nonce with DPoP-Nonce), and a nonce from one instance is good at every other', async () => {
    const key = await dpopKey();
    const spa = await clientFor(latch.url, 'spa');
    const codeFlow = () => logIn(latch.url, spa, { scope: 'openid offline_access a:read', DPoP: dpopHandle(spa, key) });
    // openid-client retries once with the nonce Latch sent: the flow works, and costs one refusal.
    const { tokens } = await codeFlow();
    expect(tokens.token_type).toBe('dpop');
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, client_id: 'spa', token_type: 'DPoP', cnf: { jkt: key.jkt } });

    const refresh = (server: TestLatch, dpop: string | undefined) =>
      postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'spa' }, undefined, dpop === undefined ? {} : { dpop });
    const withoutNonce = await refresh(latch, await tokenProof(key));
    expect(withoutNonce.status).toBe(400);
    expect(withoutNonce.json).toEqual({ error: 'use_dpop_nonce', error_description: 'nonce is required in the DPoP proof' });
    const nonce = withoutNonce.headers.get('dpop-nonce')!;
    expect(nonce).toMatch(/^[\w-]{43}$/);
    // The nonce from `latch` works at `peer`: one shared secret, no shared state.
    const atPeer = await refresh(peer, await tokenProof(key, peer, { nonce }));
    expect(atPeer.status).toBe(200);
    expect(atPeer.json!.token_type).toBe('DPoP');
  });

  it('binds a public client’s refresh token: refused without the key (no proof, or another key’s), accepted with it', async () => {
    const key = await dpopKey();
    const spa = await clientFor(latch.url, 'spa');
    const { tokens } = await logIn(latch.url, spa, { scope: 'openid offline_access a:read', DPoP: dpopHandle(spa, key) });
    // The refresh token is stored bound to the same key (a public client cannot introspect).
    expect(await storedPayload(redis.client, latch.store.keys.record('RefreshToken', tokens.refresh_token!))).toMatchObject({ jkt: key.jkt });

    await expect(oidc.refreshTokenGrant(spa, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant', error_description: 'the refresh token is bound to a DPoP key: send a proof signed by that key' });
    const thief = await dpopKey();
    await expect(oidc.refreshTokenGrant(spa, tokens.refresh_token!, undefined, { DPoP: dpopHandle(spa, thief) })).rejects.toMatchObject({
      error: 'invalid_grant',
      error_description: 'the refresh token is bound to a DPoP key: send a proof signed by that key',
    });
    const renewed = await oidc.refreshTokenGrant(spa, tokens.refresh_token!, undefined, { DPoP: dpopHandle(spa, key) });
    expect(await introspect(renewed.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
  });

  it('does not bind a confidential client’s refresh token (§5), but binds each new access token to that request’s proof', async () => {
    const key = await dpopKey();
    const web = await clientFor(latch.url, 'web', SECRETS.web);
    const { tokens } = await logIn(latch.url, web, { DPoP: dpopHandle(web, key) });
    expect(await introspect(tokens.access_token)).toMatchObject({ token_type: 'DPoP', cnf: { jkt: key.jkt } });
    const refreshToken = (await postForm(`${latch.url}/introspect`, { token: tokens.refresh_token! }, ['web', SECRETS.web])).json!;
    expect(refreshToken).toMatchObject({ active: true, client_id: 'web' });
    expect(refreshToken).not.toHaveProperty('cnf');
    const next = await dpopKey();
    const renewed = await oidc.refreshTokenGrant(web, tokens.refresh_token!, undefined, { DPoP: dpopHandle(web, next) });
    expect(await introspect(renewed.access_token)).toMatchObject({ token_type: 'DPoP', cnf: { jkt: next.jkt } });
  });

  it('answers userinfo (/me) for a DPoP-bound token only with a proof by its key, and asks for its nonce there', async () => {
    const key = await dpopKey();
    const web = await clientFor(latch.url, 'web', SECRETS.web);
    const { tokens } = await logIn(latch.url, web, { scope: 'openid email', DPoP: dpopHandle(web, key) });
    const sub = tokens.claims()!.sub;
    const raw = await fetch(`${latch.url}/me`, { headers: await dpopHeaders(key, tokens.access_token, 'GET', `${latch.url}/me`) });
    expect(raw.status).toBe(401);
    expect(raw.headers.get('www-authenticate')).toContain('error="use_dpop_nonce"');
    expect(raw.headers.get('dpop-nonce')).toMatch(/^[\w-]{43}$/);
    // A fresh handle knows no nonce yet: /me asks for one, openid-client retries with it.
    expect(await oidc.fetchUserInfo(web, tokens.access_token, sub, { DPoP: dpopHandle(web, key) })).toMatchObject({ sub, email: 'alice@example.test' });
    await expect(oidc.fetchUserInfo(web, tokens.access_token, sub)).rejects.toMatchObject({ status: 401 });
    await expect(oidc.fetchUserInfo(web, tokens.access_token, sub, { DPoP: dpopHandle(web, await dpopKey()) })).rejects.toMatchObject({ status: 401 });
  });

  it('requires a proof from a dpop_bound_access_tokens client', async () => {
    const bound: [string, string] = ['svc-bound', BOUND_SECRET];
    const refused = await machineToken(latch, undefined, bound);
    expect(refused.status).toBe(400);
    expect(refused.json).toEqual({ error: 'invalid_grant', error_description: 'this client must send a DPoP proof with every token request (dpop_bound_access_tokens)' });
    const key = await dpopKey();
    const granted = await machineToken(latch, await tokenProof(key), bound);
    expect(granted.status).toBe(200);
    expect(await introspect(granted.json!.access_token as string)).toMatchObject({ client_id: 'svc-bound', token_type: 'DPoP', cnf: { jkt: key.jkt } });
  });
});

describe('DPoP with dpop.requireNonce "all"', () => {
  let strict: TestLatch;
  beforeAll(async () => {
    strict = await startLatch(redis.url, { config: { ...latch.config, file: dpopFileConfig('all') } });
  });
  afterAll(() => strict.close());

  it('asks confidential clients for the nonce too', async () => {
    const key = await dpopKey();
    const first = await machineToken(strict, await tokenProof(key, strict));
    expect(first.status).toBe(400);
    expect(first.json).toEqual({ error: 'use_dpop_nonce', error_description: 'nonce is required in the DPoP proof' });
    const nonce = first.headers.get('dpop-nonce')!;
    const second = await machineToken(strict, await tokenProof(key, strict, { nonce }));
    expect(second.status).toBe(200);
    expect(second.json!.token_type).toBe('DPoP');
  });
});
