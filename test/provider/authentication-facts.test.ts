import * as oidc from 'openid-client';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A, SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

const introspect = async (token: string) => (await postForm(`${latch.url}/introspect`, { token }, ['api-a', SECRETS.apiA])).json!;
const seconds = () => Math.floor(Date.now() / 1000);
const nextSecond = () => new Promise((r) => setTimeout(r, 1100));

describe('the facts of the sign-in travel with the tokens (RFC 9470 §6.1, RFC 9068 §2.2.1)', () => {
  it('advertises the acr of a password sign-in in discovery', async () => {
    const discovery = (await (await fetch(`${latch.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.acr_values_supported).toEqual(['urn:latch:acr:password']);
  });

  it("introspection of a user's access token says when and how the user signed in", async () => {
    const before = seconds();
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    const answer = await introspect(tokens.access_token);
    expect(answer).toMatchObject({ active: true, sub: 'sub-alice', acr: 'urn:latch:acr:password', amr: ['pwd'] });
    expect(answer.auth_time).toBeGreaterThanOrEqual(before);
    expect(answer.auth_time).toBeLessThanOrEqual(seconds());
  });

  it('a refreshed access token keeps the time of the sign-in, not of the refresh', async () => {
    const client = await webClient(latch.url);
    const { tokens } = await logIn(latch.url, client);
    const signedIn = (await introspect(tokens.access_token)).auth_time as number;
    await nextSecond();
    const refreshed = await oidc.refreshTokenGrant(client, tokens.refresh_token!);
    expect(await introspect(refreshed.access_token)).toMatchObject({ active: true, auth_time: signedIn, acr: 'urn:latch:acr:password', amr: ['pwd'] });
    await nextSecond();
    const again = await oidc.refreshTokenGrant(client, refreshed.refresh_token!);
    expect((await introspect(again.access_token)).auth_time).toBe(signedIn);
  });

  it('signing in again with prompt=login gives a newer auth_time; reusing the browser session keeps the old one', async () => {
    const client = await webClient(latch.url);
    const browser = new BrowserSession();
    const first = (await introspect((await logIn(latch.url, client, { browser })).tokens.access_token)).auth_time as number;
    await nextSecond();
    // Same browser, no prompt=login: single sign-on, the same authentication.
    const sso = await introspect((await logIn(latch.url, client, { browser })).tokens.access_token);
    expect(sso.auth_time).toBe(first);
    const relogin = await introspect((await logIn(latch.url, client, { browser, prompt: 'login consent' })).tokens.access_token);
    expect(relogin.auth_time).toBeGreaterThan(first);
    expect(relogin).toMatchObject({ acr: 'urn:latch:acr:password', amr: ['pwd'] });
  });

  it('max_age older than the sign-in sends the user to the login page again, and the new token says so', async () => {
    const client = await webClient(latch.url);
    const browser = new BrowserSession();
    const first = (await introspect((await logIn(latch.url, client, { browser })).tokens.access_token)).auth_time as number;
    await nextSecond();
    await nextSecond();
    const stepped = await introspect((await logIn(latch.url, client, { browser, maxAge: 1 })).tokens.access_token);
    expect(stepped.auth_time).toBeGreaterThan(first);
  });

  it('a client-credentials token carries no sign-in facts (no user authenticated)', async () => {
    const svc = await clientFor(latch.url, 'svc', SECRETS.svc);
    const { access_token } = await oidc.clientCredentialsGrant(svc, { scope: 'a:read', resource: API_A });
    const answer = await introspect(access_token);
    expect(answer).toMatchObject({ active: true, client_id: 'svc' });
    expect(answer).not.toHaveProperty('auth_time');
    expect(answer).not.toHaveProperty('acr');
    expect(answer).not.toHaveProperty('amr');
  });
});
