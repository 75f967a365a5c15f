import * as oidc from 'openid-client';
import type { JWK } from 'jose';
import { parseFileConfig } from '../../src/config/load.js';
import { assertionForm, clientAssertion, jwtClientKey } from '../support/client-assertion.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { rewritePayload } from '../support/records.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { cloneIntoTestRealm } from '../support/rs-jest-realm.js';
import { API_A, API_B, SECRETS, testFileConfig } from '../support/test-config.js';

/**
 * Conformance of every introspection answer: a corpus of every kind of token × every kind of caller
 * (each client authentication method, owners, APIs, strangers) × token_type_hints, plus failures.
 * Each answer is checked against RFC 7662 / RFC 6749 and Latch's rules, computed by the small
 * oracle below from what the test itself did (which tokens it issued, for whom, and killed), not
 * from Latch's code or records.
 */
let redis: TestRedis;
let latch: TestLatch;
let jwtKey: JWK;

/** What the test knows about a token it made. */
interface Known {
  label: string;
  value: string;
  kind: 'access' | 'refresh' | 'client_credentials' | 'junk';
  live: boolean;
  clientId?: string;
  aud?: string;
  sub?: string;
  /** Scope as issued (space-separated). */
  granted?: string;
}

type Caller = { name: string; clientId: string; auth: () => Promise<{ basic?: [string, string]; form?: Record<string, string> }> };

// The oracle's own copy of the rules' inputs (from test-config.ts): who introspects which API, what
// each API may receive, which roles alice has and what they allow.
const INTROSPECTORS: Record<string, string[]> = { [API_A]: ['api-a', 'api-a-jwt'], [API_B]: ['api-b'] };
const API_CLAIMS: Record<string, Record<string, unknown>> = { [API_A]: { email: 'alice@example.test', username: 'alice' }, [API_B]: {} };
const ROLE_SCOPES: Record<string, string[]> = { viewer: ['a:read'], editor: ['a:read', 'a:write'] };
const ALICE_ROLES = ['viewer'];

function effectiveScope(granted: string, roles: string[]): string | undefined {
  const governed = new Set(Object.values(ROLE_SCOPES).flat());
  const allowed = new Set(roles.flatMap((r) => ROLE_SCOPES[r] ?? []));
  const kept = granted.split(' ').filter((s) => s && (!governed.has(s) || allowed.has(s)));
  return kept.length ? kept.join(' ') : undefined;
}

/** The oracle: the exact answer RFC 7662 and Latch's rules call for (times checked separately). */
function expected(token: Known, callerId: string): Record<string, unknown> {
  const apis = token.aud && INTROSPECTORS[token.aud]?.includes(callerId) ? [token.aud] : [];
  const visible = token.live && (token.clientId === callerId || apis.length > 0);
  // RFC 7662 §2.2: an inactive answer carries nothing else.
  if (!visible) return { active: false };
  const body: Record<string, unknown> = {
    active: true,
    client_id: token.clientId,
    iss: latch.url,
    exp: expect.any(Number),
    iat: expect.any(Number),
    ...(token.aud ? { aud: token.aud } : {}),
    ...(token.kind !== 'refresh' ? { token_type: 'Bearer' } : {}),
  };
  const scope = token.sub ? effectiveScope(token.granted ?? '', ALICE_ROLES) : token.granted;
  if (scope) body.scope = scope;
  if (token.sub) body.sub = token.sub;
  // The facts of the sign-in a user's access token comes from (RFC 9470 §6.1), to every caller that sees it.
  if (token.sub && token.kind === 'access') Object.assign(body, { auth_time: expect.any(Number), acr: 'urn:latch:acr:password', amr: ['pwd'] });
  // User data meant for an API goes to that API's introspectors only, never to the token's own client.
  if (token.sub && apis.length > 0) Object.assign(body, { roles: ALICE_ROLES }, ...apis.map((api) => API_CLAIMS[api]));
  return body;
}

const tokens: Known[] = [];
const hints = [undefined, 'access_token', 'refresh_token', 'urn:ietf:params:oauth:token-type:refresh_token', 'bogus_hint'];
let callers: Caller[];

async function expire(model: string, token: string) {
  await rewritePayload(redis.client, latch.store.keys.record(model, token), (payload) => {
    payload.exp = Math.floor(Date.now() / 1000) - 5;
  });
}

beforeAll(async () => {
  cloneIntoTestRealm();
  redis = await startRedis();
  const key = await jwtClientKey();
  jwtKey = key.privateJwk;
  const base = testFileConfig();
  const file = parseFileConfig({
    ...base,
    clients: [...base.clients, { client_id: 'api-a-jwt', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] }, grant_types: [] }],
    resourceServers: base.resourceServers.map((rs) => (rs.audience === API_A ? { ...rs, introspectors: [...rs.introspectors, 'api-a-jwt'] } : rs)),
  });
  latch = await startLatch(redis.url, { file });
  const basic = (clientId: string, secret: string): Caller => ({ name: `${clientId} (basic)`, clientId, auth: async () => ({ basic: [clientId, secret] }) });
  callers = [
    basic('api-a', SECRETS.apiA),
    { name: 'api-a (client_secret_post)', clientId: 'api-a', auth: async () => ({ form: { client_id: 'api-a', client_secret: SECRETS.apiA } }) },
    { name: 'api-a-jwt (private_key_jwt)', clientId: 'api-a-jwt', auth: async () => ({ form: assertionForm('api-a-jwt', await clientAssertion('api-a-jwt', jwtKey, { aud: latch.url })) }) },
    basic('api-b', SECRETS.apiB),
    basic('web', SECRETS.web),
    basic('other-web', SECRETS.other),
    basic('svc', SECRETS.svc),
  ];

  const web = await webClient(latch.url);
  const svc = await clientFor(latch.url, 'svc', SECRETS.svc);
  const user = (label: string, value: string, kind: 'access' | 'refresh', live: boolean, granted: string, aud?: string) =>
    tokens.push({ label, value, kind, live, clientId: 'web', sub: 'sub-alice', granted, ...(kind === 'access' ? { aud: aud ?? API_A } : {}) });

  // alice (role viewer) asks for a:write too: granted, but her roles allow only a:read right now.
  const scope = 'openid email offline_access a:read a:write';
  const live = (await logIn(latch.url, web, { scope })).tokens;
  user('user access token', live.access_token, 'access', true, 'a:read a:write');
  user('user refresh token', live.refresh_token!, 'refresh', true, scope);

  const sessionBound = (await logIn(latch.url, web, { scope: 'openid a:read' })).tokens;
  user('session-bound access token', sessionBound.access_token, 'access', true, 'a:read');

  const forB = (await logIn(latch.url, web, { scope: 'openid b:read', resource: API_B })).tokens;
  user('user access token for API B', forB.access_token, 'access', true, 'b:read', API_B);

  const rotated = (await logIn(latch.url, web, { scope })).tokens;
  const next = await oidc.refreshTokenGrant(web, rotated.refresh_token!);
  user('consumed refresh token', rotated.refresh_token!, 'refresh', false, scope);
  user('access token after rotation', next.access_token, 'access', true, 'a:read a:write');

  const revoked = (await logIn(latch.url, web, { scope })).tokens;
  await oidc.tokenRevocation(web, revoked.refresh_token!);
  user('access token of a revoked grant', revoked.access_token, 'access', false, 'a:read a:write');

  const expired = (await logIn(latch.url, web, { scope })).tokens;
  await expire('AccessToken', expired.access_token);
  await expire('RefreshToken', expired.refresh_token!);
  user('expired access token', expired.access_token, 'access', false, 'a:read a:write');
  user('expired refresh token', expired.refresh_token!, 'refresh', false, scope);

  for (const [aud, s] of [[API_B, 'b:read'], [API_A, 'a:read']] as const) {
    const value = (await oidc.clientCredentialsGrant(svc, { scope: s, resource: aud })).access_token;
    tokens.push({ label: `client credentials token (${aud})`, value, kind: 'client_credentials', live: true, clientId: 'svc', aud, granted: s });
  }

  // Latch issues opaque tokens only: a JWT (even one signed by a key Latch trusts) is just unknown.
  const jwtLooking = await clientAssertion('api-a-jwt', jwtKey, { aud: latch.url });
  for (const junk of ['A'.repeat(43), 'x', 'not a token', '%E2%82%AC', 'a.b.c', ' ', '0'.repeat(2000), jwtLooking]) {
    tokens.push({ label: `junk ${junk.slice(0, 10)}`, value: junk, kind: 'junk', live: false });
  }
}, 90_000);

afterAll(async () => {
  await latch.close();
  await redis.close();
});

async function ask(caller: Caller, form: Record<string, string>) {
  const { basic, form: authForm } = await caller.auth();
  return postForm(`${latch.url}/introspect`, { ...form, ...authForm }, basic);
}

describe('introspection conformance (RFC 7662 and Latch’s rules, every caller)', () => {
  it('answers every token × caller × hint exactly as the oracle says, with RFC 7662 fields and times', async () => {
    const wrong: unknown[] = [];
    let active = 0;
    let cases = 0;
    for (const token of tokens) {
      for (const caller of callers) {
        for (const hint of hints) {
          cases++;
          const answer = await ask(caller, { token: token.value, ...(hint ? { token_type_hint: hint } : {}) });
          const want = expected(token, caller.clientId);
          const now = Math.floor(Date.now() / 1000);
          const timesOk = !answer.json?.active || ((answer.json.exp as number) > now && (answer.json.iat as number) <= now);
          const headersOk = answer.headers.get('cache-control') === 'no-store' && /^application\/json/.test(answer.headers.get('content-type') ?? '');
          if (answer.json?.active) active++;
          if (answer.status !== 200 || !headersOk || !timesOk || !matches(answer.json, want)) {
            wrong.push({ case: `${token.label} by ${caller.name} hint=${hint}`, status: answer.status, got: answer.json, want });
          }
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(cases).toBeGreaterThan(500);
    // Not an all-inactive corpus: the oracle and Latch agreed on many active answers.
    expect(active).toBeGreaterThan(60);
  });

  it.each([
    ['a missing token', { form: {}, basic: ['api-a', SECRETS.apiA] }, 400, { error: 'invalid_request', error_description: "missing required parameter 'token'" }],
    ['an empty token', { form: { token: '' }, basic: ['api-a', SECRETS.apiA] }, 400, { error: 'invalid_request', error_description: "missing required parameter 'token'" }],
    ['no client authentication', { form: { token: 'x' } }, 401, { error: 'invalid_client', error_description: 'client authentication is required' }],
    ['a wrong secret', { form: { token: 'x' }, basic: ['api-a', 'wrong'] }, 401, { error: 'invalid_client', error_description: 'client authentication failed' }],
    ['an unknown client', { form: { token: 'x' }, basic: ['ghost', 'whatever'] }, 401, { error: 'invalid_client', error_description: 'client authentication failed' }],
    ['a client_id alone (no authentication)', { form: { token: 'x', client_id: 'api-a' } }, 401, { error: 'invalid_client', error_description: 'client authentication is required (public clients cannot introspect)' }],
    ['a public client', { form: { token: 'x', client_id: 'spa' } }, 401, { error: 'invalid_client', error_description: 'client authentication is required (public clients cannot introspect)' }],
    ['a secret for a private_key_jwt client', { form: { token: 'x' }, basic: ['api-a-jwt', 'a-secret-it-never-had-0123456789abcdef'] }, 401, { error: 'invalid_client', error_description: 'the provided authentication mechanism does not match the registered client authentication method' }],
    ['two authentication methods at once', { form: { token: 'x', client_secret: SECRETS.apiA, client_id: 'api-a' }, basic: ['api-a', SECRETS.apiA] }, 400, { error: 'invalid_request', error_description: 'client authentication must only be provided using one mechanism' }],
  ] as const)('answers %s per RFC 6749 §5.2 / RFC 7662 §2.3', async (_name, request, status, body) => {
    const answer = await postForm(`${latch.url}/introspect`, request.form, 'basic' in request ? [...request.basic] : undefined);
    expect(answer.status).toBe(status);
    expect(answer.json).toEqual(body);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    // A 401 invalid_client carries a challenge (RFC 6749 §5.2, RFC 7235 §3.1).
    expect(answer.headers.get('www-authenticate')).toBe(status === 401 ? 'Basic realm="latch"' : null);
  });
});

/** Deep equality with jest's asymmetric matchers (exp/iat: any number), key sets included. */
function matches(actual: unknown, want: Record<string, unknown>): boolean {
  try {
    expect(actual).toEqual(want);
    return true;
  } catch {
    return false;
  }
}
