import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { adminCall, adminToken, jobDone } from '../support/admin.js';
import { BrowserSession } from '../support/browser-session.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A, REDIRECT_URI, SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;
let admin: string;
let subscriber: Redis;
const events: Array<Record<string, unknown>> = [];

const apiA: [string, string] = ['api-a', SECRETS.apiA];
const active = async (token: string, auth: [string, string] = apiA) =>
  (await postForm(`${latch.url}/introspect`, { token }, auth)).json!.active as boolean;
const refresh = (client: string, secret: string, token: string) =>
  postForm(`${latch.url}/token`, { grant_type: 'refresh_token', refresh_token: token }, [client, secret]);

async function waitFor<T>(probe: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  admin = await adminToken(latch.url);
  subscriber = new Redis(redis.url);
  await subscriber.subscribe('latch:events');
  subscriber.on('message', (_channel, body) => events.push(JSON.parse(body)));
});
afterAll(async () => {
  subscriber.disconnect();
  await latch.close();
  await redis.close();
});

describe('log out of all devices (revoke everything of an account)', () => {
  it('kills every access token, refresh token and session of the user at once; new logins work', async () => {
    const phoneClient = await webClient(latch.url);
    const laptopClient = await clientFor(latch.url, 'other-web', SECRETS.other);
    const phone = await logIn(latch.url, phoneClient);
    const laptop = await logIn(latch.url, laptopClient, { scope: 'openid offline_access a:read' });
    expect(await active(phone.tokens.access_token)).toBe(true);
    expect(await active(laptop.tokens.access_token)).toBe(true);

    const { status, json } = await adminCall(latch.url, 'POST', '/admin/accounts/alice/revoke', admin, { reason: 'stolen phone' });
    expect(status).toBe(200);
    expect(json).toMatchObject({ epoch: expect.any(Number), grants: 2, sessions: 2, job: expect.any(String) });

    expect(await active(phone.tokens.access_token)).toBe(false);
    expect(await active(laptop.tokens.access_token)).toBe(false);
    expect(await active(phone.tokens.refresh_token!, ['web', SECRETS.web])).toBe(false);
    expect((await refresh('web', SECRETS.web, phone.tokens.refresh_token!)).json).toMatchObject({ error: 'invalid_grant' });
    expect((await refresh('other-web', SECRETS.other, laptop.tokens.refresh_token!)).json).toMatchObject({ error: 'invalid_grant' });

    // The phone's browser session is gone too: a new authorization request asks for the password.
    const url = oidc.buildAuthorizationUrl(phoneClient, {
      redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const page = await phone.browser.follow(url.href, latch.url);
    expect(page.html).toContain('Sign in');

    const again = await logIn(latch.url, phoneClient);
    expect(await active(again.tokens.access_token)).toBe(true);

    const event = await waitFor(() => events.find((e) => e.scope === 'account' && e.sub === 'sub-alice'), 'the revocation event');
    expect(event).toEqual({ v: 1, type: 'revocation', scope: 'account', sub: 'sub-alice', actor: 'security-admin', reason: 'stolen phone', at: expect.any(Number) });
    const stream = await redis.client.xrange('latch:events:stream', '-', '+');
    expect(stream.map(([, fields]) => JSON.parse(fields[1]!)).some((e) => e.scope === 'account' && e.sub === 'sub-alice')).toBe(true);

    // The dead records are deleted afterwards; the login after the revocation is kept.
    await jobDone(latch.url, admin, json!.job as string);
    expect(await redis.client.exists(latch.store.keys.record('AccessToken', phone.tokens.access_token))).toBe(0);
    expect(await redis.client.exists(latch.store.keys.record('RefreshToken', laptop.tokens.refresh_token!))).toBe(0);
    expect(await active(again.tokens.access_token)).toBe(true);
  });

  it('kills 10,000 live tokens of one account with one call', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url), { username: 'bob', password: 'bob-password-12' });
    const payload = (await latch.provider.AccessToken.adapter.find(tokens.access_token))!;
    const adapter = latch.provider.AccessToken.adapter;
    const values: string[] = [];
    for (let i = 0; i < 10_000; i++) values.push(randomBytes(32).toString('base64url').slice(0, 43));
    for (let i = 0; i < values.length; i += 500) {
      await Promise.all(values.slice(i, i + 500).map((id) => adapter.upsert(id, { ...payload, jti: id }, 600)));
    }
    const sample = values.filter((_, i) => i % 500 === 0);
    for (const value of sample) expect(await active(value)).toBe(true);

    const { json } = await adminCall(latch.url, 'POST', '/admin/accounts/bob/revoke', admin, { reason: 'compromised' });
    expect(json!.tokens).toBeGreaterThanOrEqual(10_000);

    let stillActive = 0;
    for (let i = 0; i < values.length; i += 100) {
      const answers = await Promise.all(values.slice(i, i + 100).map((value) => active(value)));
      stillActive += answers.filter(Boolean).length;
    }
    expect(stillActive).toBe(0);
    expect(await active(tokens.access_token)).toBe(false);
  }, 120_000);

  it('never lets a refresh racing a revoke-all yield an active token', async () => {
    const client = await webClient(latch.url);
    for (let round = 0; round < 15; round++) {
      const { tokens } = await logIn(latch.url, client);
      const [refreshed] = await Promise.all([
        refresh('web', SECRETS.web, tokens.refresh_token!),
        new Promise((r) => setTimeout(r, round % 5)).then(() =>
          adminCall(latch.url, 'POST', '/admin/accounts/alice/revoke', admin, { reason: `race ${round}` }),
        ),
      ]);
      if (refreshed.status === 200) {
        expect(await active(refreshed.json!.access_token as string)).toBe(false);
        expect((await refresh('web', SECRETS.web, refreshed.json!.refresh_token as string)).status).toBe(400);
      } else {
        expect(refreshed.json).toMatchObject({ error: 'invalid_grant' });
      }
      expect(await active(tokens.access_token)).toBe(false);
      await new Promise((r) => setTimeout(r, 2));
    }
  }, 120_000);
});

describe('other scopes of revocation', () => {
  it('ends one device session and leaves the others', async () => {
    const phone = await logIn(latch.url, await webClient(latch.url));
    const laptop = await logIn(latch.url, await clientFor(latch.url, 'other-web', SECRETS.other), { scope: 'openid offline_access a:read' });
    const { json } = await adminCall(latch.url, 'GET', '/admin/accounts/alice/sessions', admin);
    const sessions = json!.sessions as Array<{ id: string; client_id: string; client_name: string; ip: string; user_agent?: string }>;
    const phoneSession = sessions.find((s) => s.client_id === 'web')!;
    expect(phoneSession).toMatchObject({ client_name: 'Web App', ip: '127.0.0.1', created_at: expect.any(Number), last_used_at: expect.any(Number) });
    const ended = await adminCall(latch.url, 'POST', `/admin/accounts/alice/sessions/${phoneSession.id}/revoke`, admin, { reason: 'lost phone' });
    expect(ended.status).toBe(200);
    expect(await active(phone.tokens.access_token)).toBe(false);
    expect(await active(laptop.tokens.access_token)).toBe(true);
    expect((await adminCall(latch.url, 'POST', `/admin/accounts/alice/sessions/${phoneSession.id}/revoke`, admin, { reason: 'again' })).status).toBe(404);
  });

  it('revokes one client for one user', async () => {
    const phone = await logIn(latch.url, await webClient(latch.url));
    const laptop = await logIn(latch.url, await clientFor(latch.url, 'other-web', SECRETS.other), { scope: 'openid offline_access a:read' });
    await adminCall(latch.url, 'POST', '/admin/accounts/alice/clients/other-web/revoke', admin, { reason: 'app removed' });
    expect(await active(laptop.tokens.access_token)).toBe(false);
    expect(await active(phone.tokens.access_token)).toBe(true);
    const fresh = await logIn(latch.url, await clientFor(latch.url, 'other-web', SECRETS.other), { scope: 'openid a:read' });
    expect(await active(fresh.tokens.access_token)).toBe(true);
  });

  it('revokes every token of a compromised client, for every user and its own', async () => {
    const svc = await clientFor(latch.url, 'svc', SECRETS.svc);
    const service = await oidc.clientCredentialsGrant(svc, { scope: 'a:read', resource: API_A });
    const alice = await logIn(latch.url, await webClient(latch.url));
    const bob = await logIn(latch.url, await webClient(latch.url), { username: 'bob', password: 'bob-password-12' });
    await adminCall(latch.url, 'POST', '/admin/clients/svc/revoke', admin, { reason: 'secret leaked' });
    await adminCall(latch.url, 'POST', '/admin/clients/web/revoke', admin, { reason: 'client compromised' });
    expect(await active(service.access_token)).toBe(false);
    expect(await active(alice.tokens.access_token)).toBe(false);
    expect(await active(bob.tokens.access_token)).toBe(false);
    await new Promise((r) => setTimeout(r, 2));
    const later = await oidc.clientCredentialsGrant(svc, { scope: 'a:read', resource: API_A });
    expect(await active(later.access_token)).toBe(true);
  });

  it('leaves alone the tokens a client gets while its revocation cleanup is still running', async () => {
    const svc = await clientFor(latch.url, 'svc', SECRETS.svc);
    await Promise.all(Array.from({ length: 300 }, () => oidc.clientCredentialsGrant(svc, { scope: 'a:read', resource: API_A })));
    const { json } = await adminCall(latch.url, 'POST', '/admin/clients/svc/revoke', admin, { reason: 'rotated' });
    await new Promise((r) => setTimeout(r, 2));
    // Issued after the epoch, indexed behind the 300 dead ones the cleanup job is deleting.
    const later = await oidc.clientCredentialsGrant(svc, { scope: 'a:read', resource: API_A });
    expect(await jobDone(latch.url, admin, json!.job as string)).toMatchObject({ state: 'done' });
    expect(await active(later.access_token)).toBe(true);
  });

  it('disables an account (tokens dead, logins refused) and enables it (old tokens stay dead)', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    await adminCall(latch.url, 'POST', '/admin/accounts/alice/disable', admin, { reason: 'investigation' });
    expect(await active(tokens.access_token)).toBe(false);
    await expect(logIn(latch.url, await webClient(latch.url))).rejects.toThrow(/login step failed with 401/);
    await adminCall(latch.url, 'POST', '/admin/accounts/alice/enable', admin, { reason: 'cleared' });
    expect(await active(tokens.access_token)).toBe(false);
    const again = await logIn(latch.url, await webClient(latch.url));
    expect(await active(again.tokens.access_token)).toBe(true);
  });

  it('revokes one token by value with its grant, and publishes its hash', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    const { status, json } = await adminCall(latch.url, 'POST', '/admin/tokens/revoke', admin, { token: tokens.access_token, reason: 'leaked in a log' });
    expect(status).toBe(200);
    expect(json).toMatchObject({ grants: 1 });
    expect(await active(tokens.access_token)).toBe(false);
    expect((await refresh('web', SECRETS.web, tokens.refresh_token!)).status).toBe(400);
    const { createHash } = await import('node:crypto');
    const sha = createHash('sha256').update(tokens.access_token).digest('base64url');
    await waitFor(() => events.find((e) => e.token_sha256 === sha && e.scope === 'grant' && e.sub === 'sub-alice' && e.client_id === 'web'), 'the grant event naming the token');
    expect((await adminCall(latch.url, 'POST', '/admin/tokens/revoke', admin, { token: 'unknown', reason: 'x' })).json).toMatchObject({ tokens: 0 });
  });

  it('publishes an event for RFC 7009 revocations and refresh token reuse', async () => {
    const client = await webClient(latch.url);
    const { tokens } = await logIn(latch.url, client);
    await oidc.tokenRevocation(client, tokens.refresh_token!);
    await waitFor(() => events.find((e) => e.scope === 'grant' && e.actor === 'web'), 'the RFC 7009 event');
    const second = await logIn(latch.url, client);
    await oidc.refreshTokenGrant(client, second.tokens.refresh_token!);
    await expect(oidc.refreshTokenGrant(client, second.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await waitFor(() => events.find((e) => e.scope === 'grant' && e.reason === 'refresh token reuse'), 'the reuse event');
  });
});

describe('the devices page (over HTTP)', () => {
  it('signs the user in through the login page, lists sessions, ends one, and requires CSRF', async () => {
    const phone = await logIn(latch.url, await webClient(latch.url));
    const browser = new BrowserSession();
    let page = await browser.follow(`${latch.url}/account/devices`, latch.url);
    expect(page.html).toContain('Sign in');
    const response = await browser.submit(page.url, page.html!, '/login', { username: 'alice', password: 'alice-password-1' });
    page = await browser.follow(new URL(response.headers.get('location')!, page.url).href, latch.url);
    expect(page.url).toBe(`${latch.url}/account/devices`);
    expect(page.html).toContain('Your devices');
    expect(page.html).toContain('Web App');
    expect(page.html).toContain('Latch account');
    expect(page.html).toContain('(this browser)');
    expect(page.html).not.toMatch(/<script|style=/);

    const forged = await browser.request(`${latch.url}/account/logout-all`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=forged',
    });
    expect(forged.status).toBe(403);
    expect(await active(phone.tokens.access_token)).toBe(true);

    const row = [...page.html!.matchAll(/<tr>[\s\S]*?<\/tr>/g)].map((m) => m[0]).find((r) => r.includes('Web App') && !r.includes('this browser'))!;
    const action = /action="([^"]+\/end)"/.exec(row)![1]!;
    const ended = await browser.submit(page.url, row.replace(/^<tr>/, `<form action="${action}">`).replace(/<\/tr>$/, '</form>'), '/end');
    expect(ended.status).toBe(303);
    expect(await active(phone.tokens.access_token)).toBe(false);
  });
});
