import * as oidc from 'openid-client';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { rewritePayload } from '../support/records.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A, API_B, SECRETS } from '../support/test-config.js';

/**
 * The lean introspection handler must answer exactly what oidc-provider's own introspection answers.
 * Two instances share one Redis and one configuration: `lean` serves /introspect with Latch's
 * handler, `stock` with oidc-provider's route. Every case of the corpus goes to both. The lean
 * answer's live additions (roles, the API's configured claims) are set aside before comparing;
 * with the corpus's roles unchanged, the effective scope equals the granted one on both sides.
 */
let redis: TestRedis;
let lean: TestLatch;
let stock: TestLatch;

type Case = { name: string; form: Record<string, string>; auth?: [string, string]; headers?: Record<string, string> };
const corpus: Case[] = [];

const callers: Array<[string, [string, string]]> = [
  ['api-a', ['api-a', SECRETS.apiA]],
  ['api-b', ['api-b', SECRETS.apiB]],
  ['web', ['web', SECRETS.web]],
  ['other-web', ['other-web', SECRETS.other]],
  ['svc', ['svc', SECRETS.svc]],
];
const hints = [undefined, 'access_token', 'refresh_token', 'urn:ietf:params:oauth:token-type:refresh_token', 'bogus_hint'];

function addToken(label: string, token: string) {
  for (const [caller, auth] of callers) {
    for (const hint of hints) {
      corpus.push({ name: `${label} by ${caller} hint=${hint}`, form: { token, ...(hint ? { token_type_hint: hint } : {}) }, auth });
    }
  }
}

async function expireToken(model: string, token: string) {
  await rewritePayload(redis.client, lean.store.keys.record(model, token), (payload) => {
    payload.exp = Math.floor(Date.now() / 1000) - 5;
  });
}

beforeAll(async () => {
  redis = await startRedis();
  lean = await startLatch(redis.url);
  stock = await startLatch(redis.url, { leanIntrospection: false, config: lean.config });
  const web = await webClient(lean.url);
  const svc = await clientFor(lean.url, 'svc', SECRETS.svc);

  const live = (await logIn(lean.url, web)).tokens;
  addToken('user access token', live.access_token);
  addToken('user refresh token', live.refresh_token!);

  const sessionBound = (await logIn(lean.url, web, { scope: 'openid a:read' })).tokens;
  addToken('session-bound access token', sessionBound.access_token);

  const rotated = (await logIn(lean.url, web)).tokens;
  const next = await oidc.refreshTokenGrant(web, rotated.refresh_token!);
  addToken('consumed refresh token', rotated.refresh_token!);
  addToken('access token after rotation', next.access_token);

  const revoked = (await logIn(lean.url, web)).tokens;
  await oidc.tokenRevocation(web, revoked.refresh_token!);
  addToken('access token of a revoked grant', revoked.access_token);

  const expired = (await logIn(lean.url, web)).tokens;
  await expireToken('AccessToken', expired.access_token);
  await expireToken('RefreshToken', expired.refresh_token!);
  addToken('expired access token', expired.access_token);
  addToken('expired refresh token', expired.refresh_token!);

  addToken('client credentials token (B)', (await oidc.clientCredentialsGrant(svc, { scope: 'b:read', resource: API_B })).access_token);
  addToken('client credentials token (A)', (await oidc.clientCredentialsGrant(svc, { scope: 'a:read', resource: API_A })).access_token);

  for (const junk of ['A'.repeat(43), 'x', 'not a token', '%E2%82%AC', 'a.b.c', ' ', '0'.repeat(2000)]) addToken(`junk ${junk.slice(0, 10)}`, junk);

  corpus.push(
    { name: 'missing token', form: {}, auth: ['api-a', SECRETS.apiA] },
    { name: 'empty token', form: { token: '' }, auth: ['api-a', SECRETS.apiA] },
    { name: 'no client authentication', form: { token: live.access_token } },
    { name: 'wrong secret', form: { token: live.access_token }, auth: ['api-a', 'wrong'] },
    { name: 'unknown client', form: { token: live.access_token }, auth: ['ghost', 'whatever'] },
    { name: 'client_secret_post for a basic client', form: { token: live.access_token, client_id: 'api-a', client_secret: SECRETS.apiA } },
    { name: 'client_id only', form: { token: live.access_token, client_id: 'api-a' } },
  );
}, 60_000);

afterAll(async () => {
  await lean.close();
  await stock.close();
  await redis.close();
});

describe('lean introspection vs oidc-provider introspection', () => {
  it('has a corpus with every kind of token and failure', () => {
    expect(corpus.length).toBeGreaterThan(300);
  });

  it('answers every case of the corpus with the same status and JSON', async () => {
    const differences: unknown[] = [];
    let active = 0;
    for (const c of corpus) {
      const [a, b] = await Promise.all([
        postForm(`${lean.url}/introspect`, c.form, c.auth, c.headers),
        postForm(`${stock.url}/introspect`, c.form, c.auth, c.headers),
      ]);
      if (a.json?.active) active++;
      // The lean handler adds what oidc-provider cannot know: live roles and the released claims.
      const leanBase = a.json && withoutLive(a.json);
      if (a.status !== b.status || JSON.stringify(sorted(leanBase)) !== JSON.stringify(sorted(b.json))) {
        differences.push({ case: c.name, lean: [a.status, a.json], stock: [b.status, b.json] });
      }
    }
    expect(differences).toEqual([]);
    // The corpus is not all inactive: both sides agreed on a good number of active answers.
    expect(active).toBeGreaterThan(20);
  });
});

function withoutLive(body: Record<string, unknown>): Record<string, unknown> {
  const { roles: _roles, username: _username, email: _email, ...rest } = body;
  return rest;
}

function sorted(value: unknown): unknown {
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).sort(([x], [y]) => x.localeCompare(y)));
}
