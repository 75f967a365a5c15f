import bcrypt from 'bcryptjs';
import * as oidc from 'openid-client';
import { adminCall, adminToken, jobDone } from '../support/admin.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { API_A, REDIRECT_URI, SECRETS } from '../support/test-config.js';

/**
 * Latch on a 3-primary Redis Cluster, with two instances sharing it: the core flows, introspection
 * with live permissions, every scope of revocation, and fail-closed behaviour when a primary dies.
 */
let cluster: TestRedisCluster;
let a: TestLatch;
let b: TestLatch;
let admin: string;
const apiA: [string, string] = ['api-a', SECRETS.apiA];

const introspect = (at: TestLatch, token: string, auth: [string, string] = apiA) => postForm(`${at.url}/introspect`, { token }, auth);
const active = async (at: TestLatch, token: string, auth: [string, string] = apiA) => (await introspect(at, token, auth)).json!.active as boolean;
const refresh = (at: TestLatch, client: string, secret: string, token: string) =>
  postForm(`${at.url}/token`, { grant_type: 'refresh_token', refresh_token: token }, [client, secret]);
const serviceToken = async (at: TestLatch) =>
  (await postForm(`${at.url}/token`, { grant_type: 'client_credentials', scope: 'a:read', resource: API_A }, ['svc', SECRETS.svc])).json!.access_token as string;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  a = await startLatch(cluster.target);
  b = await startLatch(cluster.target, { config: a.config });
  admin = await adminToken(a.url);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await cluster?.close();
});

describe('Latch on a Redis Cluster', () => {
  it('runs on a cluster client and spreads its keys over every primary', async () => {
    expect(a.store.clustered).toBe(true);
    await Promise.all(Array.from({ length: 20 }, () => serviceToken(a)));
    const sizes = await Promise.all(cluster.ports.map(async (port) => {
      const node = cluster.client.nodes('master').find((n) => n.options.port === port)!;
      return node.dbsize();
    }));
    expect(sizes.every((n) => n > 0)).toBe(true);
  });

  it('logs in with code + PKCE at A, introspects at B with live roles, rotates refresh tokens and revokes (RFC 7009)', async () => {
    const client = await webClient(a.url);
    const { tokens } = await logIn(a.url, client);
    expect((await introspect(b, tokens.access_token)).json).toMatchObject({ active: true, sub: 'sub-alice', client_id: 'web', roles: ['viewer'] });

    // Live permissions: promoted at B through the admin API, seen at A on the next call.
    expect((await adminCall(b.url, 'PUT', '/admin/accounts/alice/roles', admin, { roles: ['viewer', 'editor'], reason: 'promotion' })).status).toBe(200);
    expect((await introspect(a, tokens.access_token)).json).toMatchObject({ active: true, roles: ['viewer', 'editor'] });
    await adminCall(b.url, 'PUT', '/admin/accounts/alice/roles', admin, { roles: ['viewer'], reason: 'back' });

    // Refresh rotation at B; reuse of the old refresh token kills the grant (reuse detection).
    const rotated = await refresh(b, 'web', SECRETS.web, tokens.refresh_token!);
    expect(rotated.status).toBe(200);
    const next = rotated.json as { access_token: string; refresh_token: string };
    expect(await active(a, next.access_token)).toBe(true);
    expect((await refresh(a, 'web', SECRETS.web, tokens.refresh_token!)).json).toMatchObject({ error: 'invalid_grant' });
    expect(await active(b, next.access_token)).toBe(false);

    // RFC 7009 at A: the grant's tokens are dead at B.
    const second = await logIn(a.url, client);
    expect((await postForm(`${a.url}/revoke`, { token: second.tokens.refresh_token! }, ['web', SECRETS.web])).status).toBe(200);
    expect(await active(b, second.tokens.access_token)).toBe(false);
  });

  it('logs a user out of all devices with one call: every token, refresh token and session, then cleans up', async () => {
    const phone = await logIn(a.url, await webClient(a.url));
    const laptop = await logIn(a.url, await clientFor(a.url, 'other-web', SECRETS.other), { scope: 'openid offline_access a:read' });
    expect(await active(a, laptop.tokens.access_token)).toBe(true);

    const { status, json } = await adminCall(b.url, 'POST', '/admin/accounts/alice/revoke', admin, { reason: 'stolen phone' });
    expect(status).toBe(200);
    for (const at of [a, b]) {
      expect(await active(at, phone.tokens.access_token)).toBe(false);
      expect(await active(at, laptop.tokens.access_token)).toBe(false);
    }
    expect((await refresh(a, 'web', SECRETS.web, phone.tokens.refresh_token!)).json).toMatchObject({ error: 'invalid_grant' });
    expect((await refresh(b, 'other-web', SECRETS.other, laptop.tokens.refresh_token!)).json).toMatchObject({ error: 'invalid_grant' });
    const login = oidc.buildAuthorizationUrl(await webClient(a.url), {
      redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    expect((await phone.browser.follow(login.href, a.url)).html).toContain('Sign in');

    // The background cleanup deletes the dead records across all slots.
    await jobDone(b.url, admin, json!.job as string);
    expect(await cluster.client.exists(a.store.keys.record('AccessToken', phone.tokens.access_token))).toBe(0);
    expect(await cluster.client.zcard(a.store.keys.accountGrants('sub-alice'))).toBe(0);

    // A new login after the revocation works.
    const fresh = await logIn(a.url, await webClient(a.url));
    expect(await active(a, fresh.tokens.access_token)).toBe(true);
  });

  it('ends one device, one client for a user, a whole client, and a disabled account', async () => {
    const first = await logIn(a.url, await webClient(a.url));
    const second = await logIn(a.url, await webClient(a.url));
    const sessions = (await adminCall(a.url, 'GET', '/admin/accounts/alice/sessions', admin)).json!.sessions as Array<{ id: string }>;
    expect(sessions.length).toBeGreaterThanOrEqual(2);
    const device = sessions[0]!;
    expect((await adminCall(b.url, 'POST', `/admin/accounts/alice/sessions/${device.id}/revoke`, admin, { reason: 'lost' })).status).toBe(200);
    const states = [await active(a, first.tokens.access_token), await active(a, second.tokens.access_token)];
    expect(states.filter((s) => !s)).toHaveLength(1);

    const other = await logIn(a.url, await clientFor(a.url, 'other-web', SECRETS.other), { scope: 'openid offline_access a:read' });
    await adminCall(b.url, 'POST', '/admin/accounts/alice/clients/web/revoke', admin, { reason: 'app compromised' });
    expect(await active(a, first.tokens.access_token)).toBe(false);
    expect(await active(a, second.tokens.access_token)).toBe(false);
    expect(await active(a, other.tokens.access_token)).toBe(true);

    const service = await serviceToken(a);
    expect(await active(b, service)).toBe(true);
    await adminCall(b.url, 'POST', '/admin/clients/svc/revoke', admin, { reason: 'leaked secret' });
    expect(await active(a, service)).toBe(false);
    expect(await active(a, await serviceToken(b))).toBe(true);

    await adminCall(a.url, 'POST', '/admin/accounts/alice/disable', admin, { reason: 'investigation' });
    expect(await active(b, other.tokens.access_token)).toBe(false);
    await adminCall(a.url, 'POST', '/admin/accounts/alice/enable', admin, { reason: 'cleared' });
    expect(await active(b, other.tokens.access_token)).toBe(false);
    expect(await active(b, (await logIn(a.url, await webClient(a.url))).tokens.access_token)).toBe(true);
  });

  it('manages accounts at run time across instances: create at A, list at B, a taken username refused, set password and reset link, import and upgrade', async () => {
    const created = await adminCall(a.url, 'POST', '/admin/accounts', admin, { username: 'kc-1', email: 'kc-1@corp.example', password: 'cluster pass one', reason: 'x' });
    expect(created.status).toBe(201);
    expect((await adminCall(b.url, 'POST', '/admin/accounts', admin, { username: 'KC-1', reason: 'x' })).status).toBe(409);
    expect((await adminCall(b.url, 'GET', '/admin/accounts?prefix=kc-', admin)).json).toEqual({ accounts: [expect.objectContaining({ username: 'kc-1' })] });
    expect((await adminCall(b.url, 'GET', '/admin/accounts?email=kc-1@corp', admin)).json!.accounts).toHaveLength(1);

    const { tokens } = await logIn(a.url, await webClient(a.url), { username: 'kc-1', password: 'cluster pass one' });
    expect((await adminCall(b.url, 'PUT', '/admin/accounts/kc-1/password', admin, { password: 'cluster pass two', reason: 'x' })).status).toBe(200);
    expect(await active(a, tokens.access_token)).toBe(false);

    const { json } = await adminCall(a.url, 'POST', '/admin/accounts/kc-1/reset-link', admin, { reason: 'x' });
    const link = (json!.link as string).replace(a.url, b.url);
    const page = await fetch(link);
    expect(page.status).toBe(200);

    const imported = await fetch(`${b.url}/admin/accounts/import?reason=x`, {
      method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/x-ndjson' },
      body: `${JSON.stringify({ username: 'kc-2', sub: 'sub-kc-2', password_hash: bcrypt.hashSync('imported on a cluster', 4) })}\n`,
    });
    expect(await imported.json()).toMatchObject({ created: 1, failed: 0 });
    await logIn(a.url, await webClient(a.url), { username: 'kc-2', password: 'imported on a cluster' });
    expect(await cluster.client.hget(a.store.keys.account('sub-kc-2'), 'password')).toMatch(/^scrypt\$32768\$/);
  });

  it('fails closed while a primary is down (503, never active:true for a revoked token) and recovers without a restart', async () => {
    const live = await Promise.all(Array.from({ length: 12 }, () => serviceToken(a)));
    const revoked = await Promise.all(Array.from({ length: 12 }, () => serviceToken(a)));
    for (const token of revoked) await adminCall(a.url, 'POST', '/admin/tokens/revoke', admin, { token, reason: 'test' });

    await cluster.stopNode(1);
    try {
      const answers = await Promise.all([...live, ...revoked].map((token) => introspect(b, token)));
      for (const [i, answer] of answers.entries()) {
        expect([200, 503]).toContain(answer.status);
        if (answer.status === 503) expect(answer.json).toMatchObject({ error: 'temporarily_unavailable' });
        if (i >= live.length) expect(answer.json!.active).not.toBe(true);
      }
      // The client epochs live on one slot; whichever node holds them, some answers need the dead node.
      expect(answers.some((r) => r.status === 503)).toBe(true);
    } finally {
      await cluster.startNode(1);
    }

    // Back without restarting Latch (its client reconnects in the background).
    for (let i = 0; ; i++) {
      const answers = await Promise.all(live.map((token) => introspect(b, token)));
      if (answers.every((r) => r.status === 200)) {
        expect(answers.map((r) => r.json!.active)).toEqual(live.map(() => true));
        break;
      }
      if (i > 100) throw new Error('Latch did not recover after the primary came back');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const token of revoked) expect(await active(b, token)).toBe(false);
  });
});
