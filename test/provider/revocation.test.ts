import * as oidc from 'openid-client';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;
const web: [string, string] = ['web', SECRETS.web];
const apiA: [string, string] = ['api-a', SECRETS.apiA];

const revoke = (form: Record<string, string>, auth?: [string, string]) => postForm(`${latch.url}/revoke`, form, auth);
const isActive = async (token: string, auth: [string, string] = apiA) =>
  (await postForm(`${latch.url}/introspect`, { token }, auth)).json!.active;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('POST /revoke (RFC 7009)', () => {
  it('revokes an access token: introspection says inactive as soon as revocation returns', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    expect(await isActive(tokens.access_token)).toBe(true);
    const { status, text } = await revoke({ token: tokens.access_token, token_type_hint: 'access_token' }, web);
    expect(status).toBe(200);
    expect(text).toBe('');
    expect(await isActive(tokens.access_token)).toBe(false);
  });

  it('revoking a refresh token ends every access token of its grant and the refresh token itself', async () => {
    const client = await webClient(latch.url);
    const { tokens } = await logIn(latch.url, client);
    const refreshed = await oidc.refreshTokenGrant(client, tokens.refresh_token!);
    expect(await isActive(tokens.access_token)).toBe(true);
    expect(await isActive(refreshed.access_token)).toBe(true);

    expect((await revoke({ token: refreshed.refresh_token!, token_type_hint: 'refresh_token' }, web)).status).toBe(200);
    expect(await isActive(tokens.access_token)).toBe(false);
    expect(await isActive(refreshed.access_token)).toBe(false);
    expect(await isActive(refreshed.refresh_token!, web)).toBe(false);
    await expect(oidc.refreshTokenGrant(client, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('finds the token even with the wrong hint', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    expect((await revoke({ token: tokens.access_token, token_type_hint: 'refresh_token' }, web)).status).toBe(200);
    expect(await isActive(tokens.access_token)).toBe(false);
  });

  it('answers 200 for an unknown, malformed or already revoked token', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    await revoke({ token: tokens.access_token }, web);
    for (const token of [tokens.access_token, 'B'.repeat(43), 'garbage', '%%%']) {
      expect((await revoke({ token }, web)).status).toBe(200);
    }
  });

  it("refuses to revoke another client's token with unauthorized_client, and the token stays active", async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    const { status, json } = await revoke({ token: tokens.access_token }, ['other-web', SECRETS.other]);
    expect(status).toBe(400);
    expect(json).toEqual({ error: 'unauthorized_client', error_description: 'the token was not issued to this client' });
    expect(await isActive(tokens.access_token)).toBe(true);
  });

  it("answers a public client 200 for another client's token without revoking it", async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    const spa = await clientFor(latch.url, 'spa');
    await oidc.tokenRevocation(spa, tokens.access_token);
    expect(await isActive(tokens.access_token)).toBe(true);
  });

  it('requires client authentication (401 invalid_client) and a token (400 invalid_request)', async () => {
    const noAuth = await revoke({ token: 'whatever' });
    expect(noAuth.status).toBe(401);
    expect(noAuth.json).toMatchObject({ error: 'invalid_client' });
    const badAuth = await revoke({ token: 'whatever' }, ['web', 'wrong']);
    expect(badAuth.status).toBe(401);
    const noToken = await revoke({}, web);
    expect(noToken.status).toBe(400);
    expect(noToken.json).toMatchObject({ error: 'invalid_request' });
  });
});
