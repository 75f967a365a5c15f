import type { RequestListener } from 'node:http';
import express from 'express';
import Koa from 'koa';
import { expressResourceServer, koaResourceServer, requireAuthentication, ResourceServer, type AuthInfo } from 'latch/resource-server';
import { dpopHandle, dpopHeaders, dpopKey } from '../support/dpop.js';
import { clientFor, logIn } from '../support/oauth.js';
import { rewritePayload } from '../support/records.js';
import { ORDERS_API, RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { startLatchWith, type RsTestLatch } from '../support/rs-latch.js';
import { bearer, get, listen, type Listening } from '../support/rs-apps.js';
import { aliceTokens, serviceToken } from '../support/rs-tokens.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';

let redis: TestRedis;
let latch: RsTestLatch;
/** A sign-in just now, one ten minutes ago (its stored auth_time moved back), and a machine token. */
let fresh: string;
let stale: string;
let machine: string;

const MFA = 'urn:example:acr:mfa';
const PASSWORD = 'urn:latch:acr:password';
const REQUIREMENTS = {
  '/recent': { maxAgeSeconds: 300 },
  '/password': { acrValues: [MFA, PASSWORD] },
  '/mfa': { acrValues: [MFA] },
  '/both': { maxAgeSeconds: 300, acrValues: [MFA] },
};
const view = (auth: AuthInfo) => ({ sub: auth.sub, authTime: auth.authTime, acr: auth.acr });

function koaApi(rs: ResourceServer): RequestListener {
  const api = koaResourceServer(rs);
  const guards = Object.fromEntries(Object.entries(REQUIREMENTS).map(([path, r]) => [path, api.requireAuthentication(r)]));
  const app = new Koa();
  app.use(api.authenticate);
  app.use(async (ctx, next) => (guards[ctx.path] ? guards[ctx.path]!(ctx, next) : next()));
  app.use((ctx) => void (ctx.body = view(ctx.state.auth!)));
  return app.callback();
}

function expressApi(rs: ResourceServer): RequestListener {
  const api = expressResourceServer(rs);
  const app = express();
  app.use(api.authenticate);
  for (const [path, r] of Object.entries(REQUIREMENTS)) app.get(path, api.requireAuthentication(r));
  app.use((req, res) => void res.json(view(req.auth!)));
  return app;
}

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatchWith(redis.url, (await rsConfig()).file);
  fresh = (await aliceTokens(latch.url)).access_token;
  stale = (await aliceTokens(latch.url)).access_token;
  await rewritePayload(redis.client, latch.store.keys.record('AccessToken', stale), (p) => {
    (p.extra as Record<string, number>).auth_time -= 600;
  });
  machine = await serviceToken(latch.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('requireAuthentication (RFC 9470 step-up)', () => {
  it.each<[unknown, string]>([
    [undefined, 'requireAuthentication() needs { maxAgeSeconds?, acrValues? }'],
    [{}, 'requireAuthentication() needs maxAgeSeconds, acrValues or both'],
    [{ maxAgeSeconds: 0 }, 'requireAuthentication(): maxAgeSeconds must be a positive integer (seconds)'],
    [{ maxAgeSeconds: 1.5 }, 'requireAuthentication(): maxAgeSeconds must be a positive integer (seconds)'],
    [{ maxAgeSeconds: '60' }, 'requireAuthentication(): maxAgeSeconds must be a positive integer (seconds)'],
    [{ acrValues: [] }, 'requireAuthentication(): acrValues must be a non-empty array of acr values'],
    [{ acrValues: 'urn:x' }, 'requireAuthentication(): acrValues must be a non-empty array of acr values'],
    [{ acrValues: ['two words'] }, 'requireAuthentication(): "two words" is not a valid acr value'],
    [{ acrValues: ['say "hi"'] }, 'requireAuthentication(): "say "hi"" is not a valid acr value'],
  ])('checks its options at creation: %j', (options, message) => {
    expect(() => requireAuthentication(options as never)).toThrow(new TypeError(message));
  });

  describe.each([
    ['Koa', koaApi],
    ['Express', expressApi],
  ] as Array<[string, (rs: ResourceServer) => RequestListener]>)('%s adapter, against a real Latch', (_name, build) => {
    let rs: ResourceServer;
    let api: Listening;
    beforeAll(async () => {
      rs = new ResourceServer({ issuer: latch.url, client: { clientId: 'orders-api', clientSecret: RS_SECRETS.ordersApi }, audience: ORDERS_API, realm: 'orders' });
      api = await listen(build(rs));
    });
    afterAll(async () => {
      await api.close();
      await rs.close();
    });

    it("lets a recent enough sign-in at an accepted level through, with the sign-in's facts on the auth object", async () => {
      for (const path of ['/recent', '/password', '/me']) {
        const { status, json } = await get(`${api.url}${path}`, bearer(fresh));
        expect(status).toBe(200);
        expect(json).toEqual({ sub: 'sub-alice', authTime: expect.any(Number), acr: PASSWORD });
        expect(Math.abs((json!.authTime as number) - Date.now() / 1000)).toBeLessThan(60);
      }
    });

    it('answers a DPoP request of an old sign-in in the DPoP challenge (RFC 9449 §7.1, RFC 9470 §3)', async () => {
      const client = await clientFor(latch.url, 'orders-web', RS_SECRETS.ordersWeb);
      const key = await dpopKey();
      const { tokens } = await logIn(latch.url, client, { scope: 'openid orders:read', DPoP: dpopHandle(client, key) });
      await rewritePayload(redis.client, latch.store.keys.record('AccessToken', tokens.access_token), (p) => {
        (p.extra as Record<string, number>).auth_time -= 600;
      });
      const url = `${api.url}/recent`;
      const { status, headers, json } = await get(url, await dpopHeaders(key, tokens.access_token, 'GET', url));
      expect(status).toBe(401);
      expect(headers['www-authenticate']).toBe(
        'DPoP realm="orders", error="insufficient_user_authentication", error_description="a more recent authentication is required", max_age="300", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256", Bearer realm="orders"',
      );
      expect(json).toEqual({ error: 'insufficient_user_authentication', error_description: 'a more recent authentication is required', max_age: 300 });
    });

    it('answers a sign-in older than max_age 401 insufficient_user_authentication with max_age in the challenge', async () => {
      const { status, headers, json } = await get(`${api.url}/recent`, bearer(stale));
      expect(status).toBe(401);
      expect(headers['www-authenticate']).toBe('Bearer realm="orders", error="insufficient_user_authentication", error_description="a more recent authentication is required", max_age="300", DPoP realm="orders", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"');
      expect(headers['cache-control']).toBe('no-store');
      expect(json).toEqual({ error: 'insufficient_user_authentication', error_description: 'a more recent authentication is required', max_age: 300 });
      // The token itself is fine elsewhere.
      expect((await get(`${api.url}/me`, bearer(stale))).status).toBe(200);
    });

    it('answers a sign-in at another level with acr_values in the challenge; both requirements name both', async () => {
      const mfa = await get(`${api.url}/mfa`, bearer(fresh));
      expect(mfa.status).toBe(401);
      expect(mfa.headers['www-authenticate']).toBe(`Bearer realm="orders", error="insufficient_user_authentication", error_description="a different authentication level is required", acr_values="${MFA}", DPoP realm="orders", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"`);
      expect(mfa.json).toEqual({ error: 'insufficient_user_authentication', error_description: 'a different authentication level is required', acr_values: MFA });
      const both = await get(`${api.url}/both`, bearer(stale));
      expect(both.headers['www-authenticate']).toBe(
        `Bearer realm="orders", error="insufficient_user_authentication", error_description="a more recent authentication, at another level, is required", max_age="300", acr_values="${MFA}", DPoP realm="orders", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"`,
      );
    });

    it('answers a machine token 401: it carries no user authentication', async () => {
      const { status, json } = await get(`${api.url}/recent`, bearer(machine));
      expect(status).toBe(401);
      expect(json).toEqual({ error: 'insufficient_user_authentication', error_description: 'the access token carries no user authentication', max_age: 300 });
    });

    it('lets the user through after a new sign-in: a newer auth_time', async () => {
      expect((await get(`${api.url}/recent`, bearer(stale))).status).toBe(401);
      const again = (await aliceTokens(latch.url)).access_token;
      expect((await get(`${api.url}/recent`, bearer(again))).status).toBe(200);
    });
  });
});
