import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { adminCall, adminToken } from '../support/admin.js';
import { ACCESS_TOKEN_TYPE, EXCHANGE_SECRETS, HISTORY_API, INTERNAL_A, TOKEN_EXCHANGE, exchangeFileConfig, passwordOf } from '../support/exchange-config.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

/**
 * An exchanged opaque token belongs to its subject token's grant: every way Latch ends that grant,
 * its account or either client reaches it, at once, and the user's live roles narrow it.
 */
let redis: TestRedis;
let latch: TestLatch;

const GATEWAY: [string, string] = ['gateway', EXCHANGE_SECRETS.gateway];
const HISTORY: [string, string] = ['api-history', EXCHANGE_SECRETS.history];
const SCOPE = 'openid email offline_access a:read a:write';

interface Pair {
  parent: string;
  refresh: string;
  exchanged: string;
}

/** `username` signs in to `web` (or another app), and the gateway exchanges the access token for a History API token. */
async function exchangedFor(username: string, app?: oidc.Configuration): Promise<Pair> {
  const client = app ?? (await webClient(latch.url));
  // other-web may ask for a:read only.
  const { tokens } = await logIn(latch.url, client, { scope: app ? 'openid offline_access a:read' : SCOPE, username, password: passwordOf(username) });
  const { status, json } = await postForm(
    `${latch.url}/token`,
    { grant_type: TOKEN_EXCHANGE, subject_token: tokens.access_token, subject_token_type: ACCESS_TOKEN_TYPE, audience: HISTORY_API },
    GATEWAY,
  );
  if (status !== 200) throw new Error(`exchange answered ${status}: ${JSON.stringify(json)}`);
  return { parent: tokens.access_token, refresh: tokens.refresh_token!, exchanged: json!.access_token as string };
}

const introspect = async (token: string, client = HISTORY) => (await postForm(`${latch.url}/introspect`, { token }, client)).json!;
const parentAnswer = (token: string) => introspect(token, ['api-a', SECRETS.apiA]);

async function admin(method: string, path: string, body: Record<string, unknown> = { reason: 'test: exchanged tokens' }) {
  const { status, json } = await adminCall(latch.url, method, path, await adminToken(latch.url), body);
  if (status !== 200) throw new Error(`${path} answered ${status}: ${JSON.stringify(json)}`);
  return json!;
}

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url, { file: exchangeFileConfig() });
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('an exchanged opaque token belongs to its subject token\'s grant', () => {
  it('is stored as an access token of that grant, owned by the exchanging client', async () => {
    const { exchanged, parent } = await exchangedFor('carol');
    const [tokenPayload, parentPayload] = await Promise.all(
      [exchanged, parent].map(async (t) => (await latch.provider.AccessToken.find(t)) as unknown as { grantId: string; clientId: string; gty: string }),
    );
    expect(tokenPayload).toMatchObject({ clientId: 'gateway', grantId: parentPayload!.grantId, gty: TOKEN_EXCHANGE });
    expect(await redis.client.zrange(latch.store.keys.grantMembers(parentPayload!.grantId), '0', '-1')).toContain(latch.store.keys.grantMember('AccessToken', exchanged));
    expect(await introspect(exchanged)).toMatchObject({ active: true, scope: 'a:read a:write' });
  });

  it('dies when the parent token is revoked by its client (RFC 7009)', async () => {
    const { parent, exchanged } = await exchangedFor('dave');
    expect(await introspect(exchanged)).toMatchObject({ active: true });
    expect((await postForm(`${latch.url}/revoke`, { token: parent }, ['web', SECRETS.web])).status).toBe(200);
    expect(await parentAnswer(parent)).toEqual({ active: false });
    expect(await introspect(exchanged)).toEqual({ active: false });
  });

  it("dies with the user's revoke-all (log out of all devices)", async () => {
    const { exchanged } = await exchangedFor('erin');
    await admin('POST', '/admin/accounts/erin/revoke');
    expect(await introspect(exchanged)).toEqual({ active: false });
  });

  it('dies when the account is disabled, and stays dead after it is enabled again', async () => {
    const { exchanged } = await exchangedFor('frank');
    await admin('POST', '/admin/accounts/frank/disable');
    expect(await introspect(exchanged)).toEqual({ active: false });
    await admin('POST', '/admin/accounts/frank/enable');
    expect(await introspect(exchanged)).toEqual({ active: false });
  });

  it("dies when the parent's client is revoked for the user (revoke-user-client), and when the exchanging client is", async () => {
    const first = await exchangedFor('grace');
    await admin('POST', '/admin/accounts/grace/clients/web/revoke');
    expect(await parentAnswer(first.parent)).toEqual({ active: false });
    expect(await introspect(first.exchanged)).toEqual({ active: false });

    await new Promise((r) => setTimeout(r, 5));
    const second = await exchangedFor('grace');
    expect(await introspect(second.exchanged)).toMatchObject({ active: true });
    await admin('POST', '/admin/accounts/grace/clients/gateway/revoke');
    expect(await introspect(second.exchanged)).toEqual({ active: false });
    // The user's sign-in at the app is not the gateway's: it lives on.
    expect(await parentAnswer(second.parent)).toMatchObject({ active: true });
  });

  it("dies by the revocation's one write alone, before any cleanup has deleted the grant (the parent client's epochs)", async () => {
    // What revoke-user-client and revoke-client stamp (src/revocation/revocations.ts), without their cleanup jobs.
    const forUser = await exchangedFor('carol');
    await latch.store.stampEpoch(latch.store.keys.account('sub-carol'), 'ce:web');
    expect(await parentAnswer(forUser.parent)).toEqual({ active: false });
    expect(await introspect(forUser.exchanged)).toEqual({ active: false });
    const other = await clientFor(latch.url, 'other-web', SECRETS.other);
    const forClient = await exchangedFor('heidi', other);
    await latch.store.stampEpoch(latch.store.keys.clientEpochs(), 'other-web');
    expect(await parentAnswer(forClient.parent)).toEqual({ active: false });
    expect(await introspect(forClient.exchanged)).toEqual({ active: false });
  });

  it("shrinks at once when the user's roles change, while a JWT exchanged before keeps what it was given until it expires", async () => {
    const { exchanged, parent } = await exchangedFor('heidi');
    const jwtBefore = await postForm(`${latch.url}/token`, { grant_type: TOKEN_EXCHANGE, subject_token: parent, subject_token_type: ACCESS_TOKEN_TYPE, audience: INTERNAL_A }, GATEWAY);
    expect(await introspect(exchanged)).toMatchObject({ active: true, scope: 'a:read a:write', roles: ['editor'] });
    await admin('PUT', '/admin/accounts/heidi/roles', { roles: ['viewer'], reason: 'test: demote' });
    expect(await introspect(exchanged)).toMatchObject({ active: true, scope: 'a:read', roles: ['viewer'] });
    // The trade-off of a JWT (docs/token-exchange.md): the one issued before says a:write for its ≤ 60 s.
    const jwks = createRemoteJWKSet(new URL(`${latch.url}/jwks`));
    const { payload } = await jwtVerify(jwtBefore.json!.access_token as string, jwks, { issuer: latch.url, audience: INTERNAL_A });
    expect(payload).toMatchObject({ scope: 'a:read a:write', roles: ['editor'] });
    const jwtAfter = await postForm(`${latch.url}/token`, { grant_type: TOKEN_EXCHANGE, subject_token: parent, subject_token_type: ACCESS_TOKEN_TYPE, audience: INTERNAL_A }, GATEWAY);
    expect(jwtAfter.json).toMatchObject({ scope: 'a:read' });
  });

  it('dies when the device is ended (admin revoke-session: the grant goes)', async () => {
    const { exchanged } = await exchangedFor('ivan');
    const { sessions } = (await adminCall(latch.url, 'GET', '/admin/accounts/ivan/sessions', await adminToken(latch.url))).json as { sessions: Array<{ id: string }> };
    expect(sessions).toHaveLength(1);
    await admin('POST', `/admin/accounts/ivan/sessions/${sessions[0]!.id}/revoke`);
    expect(await introspect(exchanged)).toEqual({ active: false });
  });

  it('revoked by the gateway that holds it (RFC 7009), it dies alone: the user\'s grant at the app lives on', async () => {
    const { parent, refresh, exchanged } = await exchangedFor('judy');
    const events = (await redis.client.xlen('latch:events:stream')) as number;
    // The app may not revoke it: the token is the gateway's.
    const byApp = await postForm(`${latch.url}/revoke`, { token: exchanged }, ['web', SECRETS.web]);
    expect(byApp.status).toBe(400);
    expect(byApp.json).toEqual({ error: 'unauthorized_client', error_description: 'the token was not issued to this client' });
    expect((await postForm(`${latch.url}/revoke`, { token: exchanged }, GATEWAY)).status).toBe(200);
    expect(await introspect(exchanged)).toEqual({ active: false });
    expect(await parentAnswer(parent)).toMatchObject({ active: true, sub: 'sub-judy' });
    const refreshed = await oidc.refreshTokenGrant(await webClient(latch.url), refresh);
    expect(await parentAnswer(refreshed.access_token)).toMatchObject({ active: true });
    // Its death is published like any token's (a resource-server cache drops it).
    const published = (await redis.client.xrange('latch:events:stream', '-', '+')).slice(events).map(([, fields]) => JSON.parse(fields[1]!));
    expect(published).toContainEqual(expect.objectContaining({ type: 'revocation', scope: 'token', sub: 'sub-judy', client_id: 'gateway', actor: 'gateway' }));
  });

  it("dies when the parent's client is revoked for every user (revoke-client)", async () => {
    const other = await clientFor(latch.url, 'other-web', SECRETS.other);
    const { parent, exchanged } = await exchangedFor('carol', other);
    expect(await introspect(exchanged)).toMatchObject({ active: true, scope: 'a:read' });
    await admin('POST', '/admin/clients/other-web/revoke');
    expect(await parentAnswer(parent)).toEqual({ active: false });
    expect(await introspect(exchanged)).toEqual({ active: false });
  });

  it('dies when the exchanging client is revoked for every user (a compromised gateway)', async () => {
    const { exchanged, parent } = await exchangedFor('dave');
    expect(await introspect(exchanged)).toMatchObject({ active: true });
    await admin('POST', '/admin/clients/gateway/revoke');
    expect(await introspect(exchanged)).toEqual({ active: false });
    expect(await parentAnswer(parent)).toMatchObject({ active: true });
  });
});
