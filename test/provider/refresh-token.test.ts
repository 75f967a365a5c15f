import * as oidc from 'openid-client';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;
const apiA: [string, string] = ['api-a', SECRETS.apiA];
const isActive = async (token: string) => (await postForm(`${latch.url}/introspect`, { token }, apiA)).json!.active;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('refresh token grant', () => {
  it('rotates the refresh token on every use', async () => {
    const client = await webClient(latch.url);
    const { tokens } = await logIn(latch.url, client);
    const first = await oidc.refreshTokenGrant(client, tokens.refresh_token!);
    expect(first.refresh_token).toBeDefined();
    expect(first.refresh_token).not.toBe(tokens.refresh_token);
    expect(first.scope).toBe('a:read');
    expect(await isActive(first.access_token)).toBe(true);
    const second = await oidc.refreshTokenGrant(client, first.refresh_token!);
    expect(second.refresh_token).not.toBe(first.refresh_token);
  });

  it('detects reuse of a rotated refresh token and revokes the whole grant', async () => {
    const client = await webClient(latch.url);
    const { tokens } = await logIn(latch.url, client);
    const rotated = await oidc.refreshTokenGrant(client, tokens.refresh_token!);

    await expect(oidc.refreshTokenGrant(client, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    // The thief or the victim: whoever holds the newer tokens loses them too (RFC 9700 §4.14.2).
    expect(await isActive(rotated.access_token)).toBe(false);
    expect(await isActive(tokens.access_token)).toBe(false);
    await expect(oidc.refreshTokenGrant(client, rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('lets exactly one of 50 concurrent refreshes with the same token succeed', async () => {
    const client = await webClient(latch.url);
    const { tokens } = await logIn(latch.url, client);
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () =>
        postForm(`${latch.url}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, ['web', SECRETS.web]),
      ),
    );
    const responses = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    const ok = responses.filter((r) => r?.status === 200);
    const refused = responses.filter((r) => r?.status === 400 && r.json?.error === 'invalid_grant');
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(49);
  });

  it('refuses a refresh token of another client', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    const { status, json } = await postForm(
      `${latch.url}/token`,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
      ['other-web', SECRETS.other],
    );
    expect(status).toBe(400);
    expect(json).toMatchObject({ error: 'invalid_grant' });
  });
});

describe('client credentials grant', () => {
  it('issues an opaque token for the API named by the resource parameter', async () => {
    const { status, json } = await postForm(
      `${latch.url}/token`,
      { grant_type: 'client_credentials', scope: 'b:read', resource: 'https://b.api.test' },
      ['svc', SECRETS.svc],
    );
    expect(status).toBe(200);
    expect(json).toEqual({ access_token: expect.stringMatching(/^[\w-]{43}$/), expires_in: 600, scope: 'b:read', token_type: 'Bearer' });
  });

  it('picks the API that knows the requested scope when no resource is given', async () => {
    const { json } = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope: 'b:read' }, ['svc', SECRETS.svc]);
    expect(json).toMatchObject({ scope: 'b:read' });
    const introspected = await postForm(`${latch.url}/introspect`, { token: json!.access_token as string }, ['api-b', SECRETS.apiB]);
    expect(introspected.json).toMatchObject({ active: true, aud: 'https://b.api.test' });
  });

  it('refuses a client that may not use the grant, and bad credentials', async () => {
    const notAllowed = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope: 'a:read' }, ['web', SECRETS.web]);
    expect(notAllowed.status).toBe(400);
    expect(notAllowed.json).toMatchObject({ error: 'unauthorized_client' });
    const bad = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials' }, ['svc', 'wrong']);
    expect(bad.status).toBe(401);
    expect(bad.json).toMatchObject({ error: 'invalid_client' });
    const none = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials' });
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ error: 'invalid_client' });
  });

  it('refuses an API the client is not registered for with invalid_target', async () => {
    const { status, json } = await postForm(
      `${latch.url}/token`,
      { grant_type: 'client_credentials', scope: 'a:read', resource: 'https://unknown.api.test' },
      ['svc', SECRETS.svc],
    );
    expect(status).toBe(400);
    expect(json).toMatchObject({ error: 'invalid_target' });
  });
});
