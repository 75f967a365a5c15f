import type { IncomingMessage, ServerResponse } from 'node:http';
import { generateKeyPair, SignJWT } from 'jose';
import { ResourceServer } from 'latch/resource-server';
import { createGateway } from '../../examples/jwt-gateway/gateway.js';
import { createInternalService } from '../../examples/jwt-gateway/internal-service.js';
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

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatchWith(redis.url, (await rsConfig()).file);
  door = new ResourceServer({
    issuer: latch.url,
    client: { clientId: 'orders-api', clientSecret: RS_SECRETS.ordersApi },
    audience: ORDERS_API,
    realm: 'gateway',
  });
  // The gateway's URL is needed by the internal service (iss, JWKS) before the gateway exists.
  const gatewayApp: { handle?: (req: IncomingMessage, res: ServerResponse) => unknown } = {};
  gateway = await listen((req, res) => void gatewayApp.handle!(req, res));
  internal = await listen(createInternalService({ jwksUrl: `${gateway.url}/.well-known/jwks.json`, issuer: gateway.url, audience: AUDIENCE }).callback());
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  gatewayApp.handle = (await createGateway({
    resourceServer: door,
    issuer: gateway.url,
    internalUrl: internal.url,
    internalAudience: AUDIENCE,
    signingKey: { privateKey, publicKey, kid: 'gw-test' },
  })).callback();
});
afterAll(async () => {
  await gateway.close();
  await internal.close();
  await door.close();
  await latch.close();
  await redis.close();
});

describe('examples/jwt-gateway: opaque tokens outside, signed JWTs inside', () => {
  it('publishes its public key as a JWKS (no private part)', async () => {
    const jwks = (await (await fetch(`${gateway.url}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toEqual([{ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), kid: 'gw-test', alg: 'ES256', use: 'sig' }]);
  });

  it('introspects the opaque token and forwards a short-lived JWT the internal service verifies locally', async () => {
    const { access_token } = await aliceTokens(latch.url);
    const response = await fetch(`${gateway.url}/api/orders`, { headers: bearer(access_token) });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { service: string; verified: Record<string, unknown> };
    expect(body.service).toBe('internal');
    expect(body.verified).toEqual({
      iss: gateway.url,
      aud: AUDIENCE,
      sub: 'sub-alice',
      client_id: 'orders-web',
      scope: 'orders:read orders:write',
      roles: ['viewer'],
      preferred_username: 'alice',
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.any(String),
    });
    expect((body.verified.exp as number) - (body.verified.iat as number)).toBe(60);
  });

  it('the internal service refuses the opaque token, no token, and a JWT the gateway did not sign', async () => {
    const { access_token } = await aliceTokens(latch.url);
    expect((await fetch(`${internal.url}/orders`, { headers: bearer(access_token) })).status).toBe(401);
    expect((await fetch(`${internal.url}/orders`)).status).toBe(401);
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ scope: 'orders:read' })
      .setProtectedHeader({ alg: 'ES256', kid: 'gw-test', typ: 'at+jwt' })
      .setIssuer(gateway.url)
      .setAudience(AUDIENCE)
      .setSubject('sub-alice')
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(privateKey);
    const response = await fetch(`${internal.url}/orders`, { headers: bearer(forged) });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'invalid_token', error_description: 'the gateway JWT is invalid or expired' });
  });

  it('refuses at the door: no token (401), then a token revoked by an admin (401 invalid_token)', async () => {
    const none = await fetch(`${gateway.url}/api/orders`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="gateway", DPoP realm="gateway", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"');

    const { access_token } = await aliceTokens(latch.url);
    expect((await fetch(`${gateway.url}/api/orders`, { headers: bearer(access_token) })).status).toBe(200);
    await adminRevokeAccount(latch.url, 'alice');
    const revoked = await fetch(`${gateway.url}/api/orders`, { headers: bearer(access_token) });
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toContain('error="invalid_token"');
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
