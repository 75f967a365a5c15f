import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { ACCESS_TOKEN_TYPE, EXCHANGE_SECRETS, HISTORY_API, INTERNAL_A, INTERNAL_BRIEF, JWT_TYPE, TOKEN_EXCHANGE, exchangeFileConfig, passwordOf } from '../support/exchange-config.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { clientFor, logIn, postForm, webClient } from '../support/oauth.js';
import { rewritePayload } from '../support/records.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A, API_B, SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;
let jwks: ReturnType<typeof createRemoteJWKSet>;
/** alice (viewer): granted a:read a:write at API A, her live scope is a:read. */
let alice: { access_token: string; refresh_token: string };
/** carol (editor): live a:read a:write. */
let carol: string;

const GATEWAY: [string, string] = ['gateway', EXCHANGE_SECRETS.gateway];
const SCOPE = 'openid email offline_access a:read a:write';

/** A token exchange request by `client` (null: no client authentication). */
function exchange(form: Record<string, string>, client: [string, string] | null = GATEWAY) {
  return postForm(`${latch.url}/token`, { grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN_TYPE, ...form }, client ?? undefined);
}
const introspect = async (token: string, client: [string, string]) => (await postForm(`${latch.url}/introspect`, { token }, client)).json;
const verify = (token: string, audience = INTERNAL_A) => jwtVerify(token, jwks, { issuer: latch.url, audience, typ: 'at+jwt', algorithms: ['RS256'] });
const svcToken = async (scope = 'a:read', resource = API_A) =>
  (await oidc.clientCredentialsGrant(await clientFor(latch.url, 'svc', SECRETS.svc), { scope, resource })).access_token;

beforeAll(async () => {
  // AOF with fsync on every write: the fail-closed test restarts Redis, and the tokens must survive it.
  redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  latch = await startLatch(redis.url, { file: exchangeFileConfig() });
  jwks = createRemoteJWKSet(new URL(`${latch.url}/jwks`));
  const web = await webClient(latch.url);
  alice = (await logIn(latch.url, web, { scope: SCOPE })).tokens as typeof alice;
  carol = (await logIn(latch.url, web, { scope: SCOPE, username: 'carol', password: passwordOf('carol') })).tokens.access_token;
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('token exchange at /token (RFC 8693)', () => {
  it('is advertised in discovery', async () => {
    const discovery = (await (await fetch(`${latch.url}/.well-known/openid-configuration`)).json()) as { grant_types_supported: string[] };
    expect(discovery.grant_types_supported).toContain(TOKEN_EXCHANGE);
  });

  describe('a signed JWT for an internal service', () => {
    it("exchanges a user's access token for an RFC 9068 JWT: live scope and roles, the service's claims, the sign-in's facts, act", async () => {
      const { status, json, headers } = await exchange({ subject_token: alice.access_token, audience: INTERNAL_A });
      expect(status).toBe(200);
      expect(headers.get('cache-control')).toBe('no-store');
      expect(json).toEqual({ access_token: expect.any(String), issued_token_type: JWT_TYPE, token_type: 'Bearer', expires_in: 60, scope: 'a:read' });
      const { payload, protectedHeader } = await verify(json!.access_token as string);
      expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: 'test-key' });
      const subject = await introspect(alice.access_token, ['api-a', SECRETS.apiA]);
      expect(payload).toEqual({
        iss: latch.url,
        sub: 'sub-alice',
        aud: INTERNAL_A,
        client_id: 'gateway',
        iat: expect.any(Number),
        exp: expect.any(Number),
        jti: expect.any(String),
        // a:write was granted, but alice's role (viewer) allows only a:read right now.
        scope: 'a:read',
        roles: ['viewer'],
        preferred_username: 'alice',
        email: 'alice@example.test',
        auth_time: subject!.auth_time,
        acr: 'urn:latch:acr:password',
        amr: ['pwd'],
        act: { sub: 'gateway' },
      });
      expect(payload.exp! - payload.iat!).toBe(60);
    });

    it('gives each exchange its own jti, and keeps a narrower requested scope', async () => {
      const a = await exchange({ subject_token: carol, audience: INTERNAL_A, requested_token_type: JWT_TYPE, scope: 'a:write' });
      const b = await exchange({ subject_token: carol, audience: INTERNAL_A });
      expect(a.json).toMatchObject({ issued_token_type: JWT_TYPE, scope: 'a:write' });
      expect(b.json).toMatchObject({ scope: 'a:read a:write' });
      const [pa, pb] = await Promise.all([verify(a.json!.access_token as string), verify(b.json!.access_token as string)]);
      expect(pa.payload.scope).toBe('a:write');
      expect(pa.payload.jti).not.toBe(pb.payload.jti);
    });

    it("exchanges a client's own token for a JWT whose sub is the client, without roles or user claims", async () => {
      const { json } = await exchange({ subject_token: await svcToken(), audience: INTERNAL_A });
      const { payload } = await verify(json!.access_token as string);
      expect(payload).toEqual({
        iss: latch.url, sub: 'svc', aud: INTERNAL_A, client_id: 'gateway', scope: 'a:read', act: { sub: 'gateway' },
        iat: expect.any(Number), exp: expect.any(Number), jti: expect.any(String),
      });
    });

    it("caps the scope by the client's token_exchange.scopes", async () => {
      const capped: [string, string] = ['capped-gateway', EXCHANGE_SECRETS.capped];
      const { json } = await exchange({ subject_token: carol, audience: INTERNAL_A }, capped);
      expect(json).toMatchObject({ scope: 'a:read' });
      expect((await verify(json!.access_token as string)).payload.scope).toBe('a:read');
      const refused = await exchange({ subject_token: carol, audience: INTERNAL_A, scope: 'a:read a:write' }, capped);
      expect(refused.status).toBe(400);
      expect(refused.json).toEqual({ error: 'invalid_scope', error_description: `this client may not obtain the scope a:write for ${INTERNAL_A} by token exchange`, scope: 'a:write' });
    });

    it("lives as long as its audience says (ttlSeconds), and never longer than the subject token", async () => {
      const brief = await exchange({ subject_token: alice.access_token, audience: INTERNAL_BRIEF });
      expect(brief.json).toMatchObject({ expires_in: 2, scope: 'a:read' });
      const { payload } = await verify(brief.json!.access_token as string, INTERNAL_BRIEF);
      expect(payload.exp! - payload.iat!).toBe(2);

      const { tokens } = await logIn(latch.url, await webClient(latch.url), { scope: SCOPE });
      const soon = Math.floor(Date.now() / 1000) + 20;
      await rewritePayload(redis.client, latch.store.keys.record('AccessToken', tokens.access_token), (p) => void (p.exp = soon));
      const capped = await exchange({ subject_token: tokens.access_token, audience: INTERNAL_A });
      expect(capped.json!.expires_in).toBeLessThanOrEqual(20);
      expect((await verify(capped.json!.access_token as string)).payload.exp).toBe(soon);
    });
  });

  describe('a down-scoped opaque token for another API (delegation)', () => {
    it("is introspected by that API's introspectors with act, the exchanging client, the live scope and the API's claims", async () => {
      const { status, json } = await exchange({ subject_token: alice.access_token, audience: HISTORY_API, requested_token_type: ACCESS_TOKEN_TYPE });
      expect(status).toBe(200);
      expect(json).toEqual({ access_token: expect.any(String), issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: 300, scope: 'a:read' });
      const token = json!.access_token as string;
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const subject = await introspect(alice.access_token, ['api-a', SECRETS.apiA]);
      expect(await introspect(token, ['api-history', EXCHANGE_SECRETS.history])).toEqual({
        active: true,
        sub: 'sub-alice',
        client_id: 'gateway',
        scope: 'a:read',
        aud: HISTORY_API,
        iss: latch.url,
        token_type: 'Bearer',
        iat: expect.any(Number),
        exp: expect.any(Number),
        roles: ['viewer'],
        username: 'alice',
        auth_time: subject!.auth_time,
        acr: 'urn:latch:acr:password',
        amr: ['pwd'],
        act: { sub: 'gateway' },
      });
      // Only for its API (and its own client): API A's introspector and alice's app learn nothing.
      expect(await introspect(token, ['api-a', SECRETS.apiA])).toEqual({ active: false });
      expect(await introspect(token, ['web', SECRETS.web])).toEqual({ active: false });
      expect(await introspect(token, GATEWAY)).toMatchObject({ active: true, client_id: 'gateway', act: { sub: 'gateway' } });
    });

    it('names the actor_token\'s subject as the actor, and nests the earlier actor when an exchanged token is exchanged again', async () => {
      const actor = await svcToken();
      const first = await exchange({ subject_token: alice.access_token, audience: HISTORY_API, actor_token: actor, actor_token_type: ACCESS_TOKEN_TYPE });
      expect(first.status).toBe(200);
      const history = first.json!.access_token as string;
      expect(await introspect(history, ['api-history', EXCHANGE_SECRETS.history])).toMatchObject({ active: true, client_id: 'gateway', act: { sub: 'svc' } });
      // The gateway exchanges its own delegated token for a JWT: the chain, most recent actor first.
      const second = await exchange({ subject_token: history, audience: INTERNAL_A });
      expect(second.status).toBe(200);
      const { payload } = await verify(second.json!.access_token as string);
      expect(payload).toMatchObject({ sub: 'sub-alice', client_id: 'gateway', scope: 'a:read', act: { sub: 'gateway', act: { sub: 'svc' } } });
    });

    it("refuses a client's own token: it has no grant whose end would end the new one", async () => {
      const { status, json } = await exchange({ subject_token: await svcToken(), audience: HISTORY_API });
      expect(status).toBe(400);
      expect(json).toEqual({
        error: 'invalid_request',
        error_description: "subject_token is a client's own token (client credentials): only a user's token can be exchanged for an opaque token; ask for a JWT, or use client_credentials",
      });
    });
  });

  describe('refusals: the RFC error with a description that says what to change', () => {
    const invalidRequest = (error_description: string) => ({ status: 400, json: { error: 'invalid_request', error_description } });
    const notActive = invalidRequest('subject_token is not an active access token this client may use');

    type Case = [string, () => Promise<Record<string, string>>, { status: number; json: Record<string, unknown> }, [string, string]?];
    // Every row gets its client (jest would pass its done callback in a missing last column).
    const cases = (rows: Case[]) => rows.map(([name, form, want, client]) => [name, form, want, client ?? GATEWAY] as const);
    it.each(cases([
      ['no subject_token', async () => ({ audience: INTERNAL_A }), invalidRequest("missing required parameter 'subject_token'")],
      ['no subject_token_type', async () => ({ subject_token: alice.access_token, audience: INTERNAL_A, subject_token_type: '' }), invalidRequest("missing required parameter 'subject_token_type'")],
      [
        'a refresh token type',
        async () => ({ subject_token: alice.refresh_token, audience: INTERNAL_A, subject_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }),
        invalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}: Latch exchanges its own access tokens`),
      ],
      ['no audience', async () => ({ subject_token: alice.access_token }), invalidRequest("missing 'audience' (or 'resource'): name the service the new token is for")],
      [
        'an unknown audience',
        async () => ({ subject_token: alice.access_token, audience: 'https://nowhere.test' }),
        { status: 400, json: { error: 'invalid_target', error_description: 'this client may not exchange tokens for "https://nowhere.test"' } },
      ],
      [
        "an API outside the client's policy",
        async () => ({ subject_token: alice.access_token, resource: API_B }),
        { status: 400, json: { error: 'invalid_target', error_description: `this client may not exchange tokens for "${API_B}"` } },
      ],
      [
        'two audiences',
        async () => ({ subject_token: alice.access_token, audience: INTERNAL_A, resource: HISTORY_API }),
        { status: 400, json: { error: 'invalid_target', error_description: 'a token exchange issues a token for exactly one audience; ask once per service' } },
      ],
      [
        'a JWT for an API that introspects',
        async () => ({ subject_token: alice.access_token, audience: HISTORY_API, requested_token_type: JWT_TYPE }),
        { status: 400, json: { error: 'invalid_target', error_description: `${HISTORY_API} receives opaque access tokens (an API that introspects them): requested_token_type must be ${ACCESS_TOKEN_TYPE}` } },
      ],
      [
        'an opaque token for an internal JWT service',
        async () => ({ subject_token: alice.access_token, audience: INTERNAL_A, requested_token_type: ACCESS_TOKEN_TYPE }),
        { status: 400, json: { error: 'invalid_target', error_description: `${INTERNAL_A} receives signed JWTs (an internal service that verifies them itself): requested_token_type must be ${JWT_TYPE}` } },
      ],
      [
        'an id_token',
        async () => ({ subject_token: alice.access_token, audience: INTERNAL_A, requested_token_type: 'urn:ietf:params:oauth:token-type:id_token' }),
        invalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE} (an opaque token) or ${JWT_TYPE} (a signed JWT)`),
      ],
      ['an actor_token without its type', async () => ({ subject_token: alice.access_token, audience: INTERNAL_A, actor_token: await svcToken() }), invalidRequest("actor_token_type is required with 'actor_token'")],
      ['an actor_token_type alone', async () => ({ subject_token: alice.access_token, audience: INTERNAL_A, actor_token_type: ACCESS_TOKEN_TYPE }), invalidRequest("actor_token_type must not be sent without 'actor_token'")],
      ['an unknown subject token', async () => ({ subject_token: 'x'.repeat(43), audience: INTERNAL_A }), notActive],
      ['a refresh token as subject', async () => ({ subject_token: alice.refresh_token, audience: INTERNAL_A }), notActive],
      ["another API's token (the gateway does not introspect API B)", async () => ({ subject_token: await svcToken('b:read', API_B), audience: INTERNAL_A }), notActive],
      ['a token of an API the client does not introspect', async () => ({ subject_token: alice.access_token, audience: INTERNAL_A }), notActive, ['stranger-gateway', EXCHANGE_SECRETS.stranger]],
      [
        'an inactive actor token',
        async () => ({ subject_token: alice.access_token, audience: INTERNAL_A, actor_token: 'y'.repeat(43), actor_token_type: ACCESS_TOKEN_TYPE }),
        invalidRequest('actor_token is not an active access token this client may use'),
      ],
      [
        "a scope beyond the subject's live scope",
        async () => ({ subject_token: alice.access_token, audience: INTERNAL_A, scope: 'a:read a:write' }),
        { status: 400, json: { error: 'invalid_scope', error_description: "the subject token's live scope does not include the scope a:write", scope: 'a:write' } },
      ],
      [
        'a scope the target does not know',
        async () => ({ subject_token: alice.access_token, audience: INTERNAL_A, scope: 'b:read' }),
        { status: 400, json: { error: 'invalid_scope', error_description: `this client may not obtain the scope b:read for ${INTERNAL_A} by token exchange`, scope: 'b:read' } },
      ],
      [
        'a client without the grant type',
        async () => ({ subject_token: alice.access_token, audience: INTERNAL_A }),
        { status: 400, json: { error: 'unauthorized_client', error_description: 'this client may not use the requested grant type' } },
        ['web', SECRETS.web],
      ],
    ]))('refuses %s', async (_name, form, want, client) => {
      const { status, json } = await exchange(await form(), client);
      expect({ status, json }).toEqual(want);
    });

    it('refuses a repeated subject_token and an unauthenticated client', async () => {
      const body = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN_TYPE, audience: INTERNAL_A });
      body.append('subject_token', alice.access_token);
      body.append('subject_token', carol);
      const basic = `Basic ${Buffer.from(`gateway:${EXCHANGE_SECRETS.gateway}`).toString('base64')}`;
      const repeated = await fetch(`${latch.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }, body });
      expect(repeated.status).toBe(400);
      expect(await repeated.json()).toEqual({ error: 'invalid_request', error_description: "'subject_token' parameter must not be provided twice" });

      const anonymous = await exchange({ subject_token: alice.access_token, audience: INTERNAL_A }, null);
      expect(anonymous.status).toBe(401);
      expect(anonymous.json).toEqual({ error: 'invalid_client', error_description: 'client authentication is required' });
    });

    it('never answers with a token while Redis is unreachable: 503 temporarily_unavailable', async () => {
      await redis.stop();
      try {
        const { status, json } = await exchange({ subject_token: alice.access_token, audience: INTERNAL_A });
        expect(status).toBe(503);
        expect(json).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
      } finally {
        await redis.start();
      }
      // Back: the same request works again.
      for (let i = 0; i < 50; i++) {
        if ((await exchange({ subject_token: alice.access_token, audience: INTERNAL_A })).status === 200) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('token exchange did not recover after Redis came back');
    });
  });

  it('logs no token, and stores no exchanged JWT', async () => {
    const { json } = await exchange({ subject_token: alice.access_token, audience: INTERNAL_A });
    const jwt = json!.access_token as string;
    const { payload } = await verify(jwt);
    expect(latch.logs.join('\n')).not.toContain(alice.access_token);
    expect(latch.logs.join('\n')).not.toContain(jwt);
    expect(latch.logs.join('\n')).not.toContain((payload as JWTPayload).jti);
    expect(decodeProtectedHeader(jwt).typ).toBe('at+jwt');
    const keys = await redis.client.keys('*');
    for (const key of keys) {
      const type = await redis.client.type(key);
      if (type === 'string') expect(await redis.client.get(key)).not.toContain((payload as JWTPayload).jti);
    }
  });
});
