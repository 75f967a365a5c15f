import { generateKeyPair, SignJWT } from 'jose';
import { ResourceServer } from 'latch/resource-server';
import { createGateway } from '../../examples/jwt-gateway/gateway.js';
import { createInternalService } from '../../examples/jwt-gateway/internal-service.js';
import { parseFileConfig } from '../../src/config/load.js';
import { ORDERS_API, RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { startLatchWith, type RsTestLatch } from '../support/rs-latch.js';
import { bearer, listen, type Listening } from '../support/rs-apps.js';
import { adminRevokeAccount, aliceTokens } from '../support/rs-tokens.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';

let redis: TestRedis;
let latch: RsTestLatch;
let door: ResourceServer;
let gateway: Listening;
let internal: Listening;
const AUDIENCE = 'urn:example:internal-orders';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** What /token (token exchange) answered, as the gateway saw it. */
let exchanges = 0;

beforeAll(async () => {
  redis = await startRedis();
  // As in config/demo.json: the gateway's client (orders-api) may exchange for the internal audience.
  const { file } = await rsConfig();
  const config = parseFileConfig({
    ...file,
    tokenExchange: { jwtAudiences: [{ audience: AUDIENCE, name: 'Internal orders', scopes: ['orders:read', 'orders:write'], claims: ['preferred_username'] }] },
    clients: file.clients.map((c) => (c.client_id === 'orders-api' ? { ...c, grant_types: [TOKEN_EXCHANGE], token_exchange: { audiences: [AUDIENCE] } } : c)),
  });
  latch = await startLatchWith(redis.url, config);
  latch.provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params?.grant_type === TOKEN_EXCHANGE) exchanges++;
  });
  door = new ResourceServer({ issuer: latch.url, client: { clientId: 'orders-api', clientSecret: RS_SECRETS.ordersApi }, audience: ORDERS_API, realm: 'gateway' });
  internal = await listen(createInternalService({ jwksUrl: `${latch.url}/jwks`, issuer: latch.url, audience: AUDIENCE }).callback());
  const app = await createGateway({
    resourceServer: door,
    latch: { issuer: latch.url, clientId: 'orders-api', clientSecret: RS_SECRETS.ordersApi },
    internalUrl: internal.url,
    internalAudience: AUDIENCE,
  });
  gateway = await listen(app.callback());
});
afterAll(async () => {
  await gateway.close();
  await internal.close();
  await door.close();
  await latch.close();
  await redis.close();
});

describe('examples/jwt-gateway: opaque tokens outside, JWTs from Latch\'s token exchange inside', () => {
  it('introspects the opaque token, exchanges it at Latch for a short-lived JWT, and the internal service verifies it against Latch\'s JWKS', async () => {
    const { access_token } = await aliceTokens(latch.url);
    const response = await fetch(`${gateway.url}/api/orders`, { headers: bearer(access_token) });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { service: string; verified: Record<string, unknown> };
    expect(body.service).toBe('internal');
    expect(body.verified).toEqual({
      iss: latch.url,
      aud: AUDIENCE,
      sub: 'sub-alice',
      // The token's holder is the gateway's client; act names who acts for alice (RFC 8693 §4.1).
      client_id: 'orders-api',
      act: { sub: 'orders-api' },
      // alice's live scope at the moment of the exchange.
      scope: 'orders:read orders:write',
      roles: ['viewer'],
      preferred_username: 'alice',
      auth_time: expect.any(Number),
      acr: 'urn:latch:acr:password',
      amr: ['pwd'],
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.any(String),
    });
    expect((body.verified.exp as number) - (body.verified.iat as number)).toBe(60);
  });

  it("reuses a token's JWT while it lives: the door still introspects every request, Latch exchanges once", async () => {
    const { access_token } = await aliceTokens(latch.url);
    const introspections = latch.introspections();
    const before = exchanges;
    for (let i = 0; i < 3; i++) expect((await fetch(`${gateway.url}/api/orders`, { headers: bearer(access_token) })).status).toBe(200);
    expect(exchanges - before).toBe(1);
    expect(latch.introspections() - introspections).toBe(3);
  });

  it('the internal service refuses the opaque token, no token, and a JWT Latch did not sign', async () => {
    const { access_token } = await aliceTokens(latch.url);
    expect((await fetch(`${internal.url}/orders`, { headers: bearer(access_token) })).status).toBe(401);
    expect((await fetch(`${internal.url}/orders`)).status).toBe(401);
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ scope: 'orders:read' })
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key', typ: 'at+jwt' })
      .setIssuer(latch.url)
      .setAudience(AUDIENCE)
      .setSubject('sub-alice')
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(privateKey);
    const response = await fetch(`${internal.url}/orders`, { headers: bearer(forged) });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'invalid_token', error_description: 'the JWT is invalid or expired' });
  });

  it('refuses at the door: no token (401), then a token revoked by an admin (401 invalid_token), with no exchange', async () => {
    const none = await fetch(`${gateway.url}/api/orders`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="gateway", DPoP realm="gateway", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"');

    const { access_token } = await aliceTokens(latch.url);
    expect((await fetch(`${gateway.url}/api/orders`, { headers: bearer(access_token) })).status).toBe(200);
    await adminRevokeAccount(latch.url, 'alice');
    const before = exchanges;
    const revoked = await fetch(`${gateway.url}/api/orders`, { headers: bearer(access_token) });
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(exchanges).toBe(before);
  });

  it('answers 503 at the door while Latch is down: nothing is forwarded on a guess', async () => {
    const { access_token } = await aliceTokens(latch.url);
    await latch.stop();
    try {
      const response = await fetch(`${gateway.url}/api/orders`, { headers: bearer(access_token) });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
    } finally {
      await latch.start();
    }
  });
});
