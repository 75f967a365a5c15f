import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { ResourceServer, type ResourceServerOptions } from 'latch/resource-server';
import { ORDERS_API, RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { startLatchWith, type RsTestLatch } from '../support/rs-latch.js';
import { bearer, get, koaTestApi, listen } from '../support/rs-apps.js';
import { aliceTokens } from '../support/rs-tokens.js';
import { freePort, startRedis, type TestRedis } from '../support/redis-server.js';
import { clientFor, logIn, webClient } from '../support/oauth.js';
import { dpopHandle, dpopKey } from '../support/dpop.js';
import { SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: RsTestLatch;
let file: Awaited<ReturnType<typeof rsConfig>>['file'];
let alice: { access_token: string; refresh_token: string };
let apiAToken: string;
const warnings: string[] = [];
const servers: ResourceServer[] = [];

function resourceServer(overrides: Partial<ResourceServerOptions> = {}): ResourceServer {
  const rs = new ResourceServer({
    issuer: latch.url,
    client: { clientId: 'orders-api', clientSecret: RS_SECRETS.ordersApi },
    audience: ORDERS_API,
    logger: { warn: (details, message) => void warnings.push(`${message} ${JSON.stringify(details)}`) },
    ...overrides,
  });
  servers.push(rs);
  return rs;
}

async function waitReady(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await fetch(`${latch.opsUrl}/readyz`)).status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('Latch did not become ready again');
}

beforeAll(async () => {
  // AOF with fsync on every write: tokens survive the Redis restart below.
  redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  const config = await rsConfig();
  file = config.file;
  latch = await startLatchWith(redis.url, config.file);
  alice = await aliceTokens(latch.url);
  apiAToken = (await logIn(latch.url, await webClient(latch.url))).tokens.access_token;
});
afterAll(async () => {
  await Promise.all(servers.map((rs) => rs.close()));
  await latch.close();
  await redis.close();
});

describe('ResourceServer (core) against a real Latch', () => {
  it('finds the introspection endpoint by discovery and verifies an active token', async () => {
    const auth = await resourceServer().verify(alice.access_token);
    expect(auth).toMatchObject({ sub: 'sub-alice', clientId: 'orders-web', scopes: ['orders:read', 'orders:write'], roles: ['viewer'], aud: [ORDERS_API] });
    expect(auth.claims).toMatchObject({ active: true, iss: latch.url, preferred_username: 'alice', email: 'alice@example.test', roles: ['viewer'], token_type: 'Bearer' });
  });

  it('uses a configured introspection endpoint without discovery', async () => {
    const rs = resourceServer({ issuer: undefined, introspectionEndpoint: `${latch.url}/introspect` });
    expect((await rs.verify(alice.access_token)).sub).toBe('sub-alice');
  });

  it('refuses an active token whose audience is not ours with 401 invalid_token', async () => {
    // api-a may introspect API A's tokens, so Latch says "active"; the middleware still refuses it.
    const rs = resourceServer({ client: { clientId: 'api-a', clientSecret: SECRETS.apiA } });
    await expect(rs.verify(apiAToken)).rejects.toMatchObject({
      name: 'InvalidToken',
      code: 'ERR_AUDIENCE_MISMATCH',
      status: 401,
      error: 'invalid_token',
      description: 'the access token is not meant for this resource server',
    });
  });

  it('refuses a DPoP-bound token presented as a bearer token with 401 invalid_token, over HTTP too (RFC 9449 §7.2)', async () => {
    const client = await clientFor(latch.url, 'orders-web', RS_SECRETS.ordersWeb);
    const { access_token } = (await logIn(latch.url, client, { scope: 'openid orders:read', DPoP: dpopHandle(client, await dpopKey()) })).tokens;
    const description = 'the access token is bound to a DPoP key: it cannot be used as a bearer token';
    await expect(resourceServer().verify(access_token)).rejects.toMatchObject({
      name: 'InvalidToken', code: 'ERR_TOKEN_BOUND', status: 401, error: 'invalid_token', description,
    });
    const api = await listen(koaTestApi(resourceServer()));
    try {
      const response = await get(`${api.url}/me`, bearer(access_token));
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toBe(
        `Bearer realm="${ORDERS_API}", error="invalid_token", error_description="${description}", DPoP realm="${ORDERS_API}", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"`,
      );
      expect(response.json).toEqual({ error: 'invalid_token', error_description: description });
    } finally {
      await api.close();
    }
  });

  it('shares one in-flight introspection between concurrent requests with the same token', async () => {
    const rs = resourceServer();
    const before = latch.introspections();
    const results = await Promise.all(Array.from({ length: 10 }, () => rs.verify(alice.access_token)));
    expect(latch.introspections() - before).toBe(1);
    for (const auth of results) expect(auth).toBe(results[0]);
    await rs.verify(alice.access_token);
    expect(latch.introspections() - before).toBe(2); // no cache by default: the next call asks again
  });

  it('answers 503 (fail closed) when its own client credentials are refused, and says why in its log only', async () => {
    warnings.length = 0;
    const rs = resourceServer({ client: { clientId: 'orders-api', clientSecret: 'a-wrong-secret-0123456789abcdef0123' } });
    await expect(rs.verify(alice.access_token)).rejects.toMatchObject({ status: 503, error: 'temporarily_unavailable', code: 'ERR_INTROSPECTION_UNAVAILABLE' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('introspection answered 401 invalid_client');
    expect(warnings[0]).not.toContain('a-wrong-secret');
  });

  it('answers 503 when discovery names another issuer', async () => {
    const rs = resourceServer({ issuer: latch.url.replace('127.0.0.1', 'localhost') });
    await expect(rs.verify(alice.access_token)).rejects.toMatchObject({ status: 503 });
    expect(warnings.at(-1)).toContain('names another issuer');
  });

  it('answers 503 while Latch is down, over HTTP too, then recovers', async () => {
    const rs = resourceServer();
    const api = await listen(koaTestApi(rs));
    try {
      expect((await get(`${api.url}/me`, bearer(alice.access_token))).status).toBe(200);
      await latch.stop();
      const down = await get(`${api.url}/me`, bearer(alice.access_token));
      expect(down.status).toBe(503);
      expect(down.json).toEqual({ error: 'temporarily_unavailable', error_description: 'the authorization server could not be reached, retry later' });
      expect(down.headers['www-authenticate']).toBeUndefined();
      expect(down.headers['retry-after']).toBe('1');
      await latch.start();
      expect((await get(`${api.url}/me`, bearer(alice.access_token))).status).toBe(200);
    } finally {
      await api.close();
    }
  });

  it('passes on Latch\'s Retry-After when Latch refuses it with 429 (rate limits)', async () => {
    const limits = { ...file.rateLimits, windowSeconds: 3600, syncIntervalMs: 0, introspection: { perClient: 2, perAddress: 1_000_000 } };
    const strict = await startLatchWith(redis.url, { ...file, rateLimits: limits });
    const rs = resourceServer({ issuer: strict.url });
    const api = await listen(koaTestApi(rs));
    try {
      expect((await get(`${api.url}/me`, bearer(alice.access_token))).status).toBe(200);
      expect((await get(`${api.url}/me`, bearer(apiAToken))).status).toBe(401);
      const refused = await get(`${api.url}/me`, bearer(alice.access_token));
      expect(refused.status).toBe(503);
      expect(refused.json).toMatchObject({ error: 'temporarily_unavailable' });
      // The rest of Latch's hour-long window, not a blind 1 s.
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(1);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(3600);
      expect(warnings.at(-1)).toContain('introspection answered 429');
    } finally {
      await api.close();
      await strict.close();
    }
  });

  it('answers 503 when Latch answers 503 because its Redis is down', async () => {
    const rs = resourceServer();
    await redis.stop();
    try {
      await expect(rs.verify(alice.access_token)).rejects.toMatchObject({ status: 503 });
      expect(warnings.at(-1)).toContain('introspection answered 503 temporarily_unavailable');
    } finally {
      await redis.start();
      await waitReady();
    }
    expect((await rs.verify(alice.access_token)).sub).toBe('sub-alice');
  });

  it('answers 503 within its timeout when Latch accepts the connection and never answers', async () => {
    const sockets: Socket[] = [];
    const hang: TcpServer = createTcpServer((socket) => void sockets.push(socket));
    const port = await freePort();
    await new Promise<void>((resolve) => hang.listen(port, '127.0.0.1', resolve));
    try {
      const rs = resourceServer({ issuer: undefined, introspectionEndpoint: `http://127.0.0.1:${port}/introspect`, timeoutMs: 200 });
      await expect(rs.verify(alice.access_token)).rejects.toMatchObject({ status: 503, code: 'ERR_INTROSPECTION_UNAVAILABLE' });
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((resolve) => hang.close(() => resolve()));
    }
  });

  it('never writes a token or a secret into its logs', () => {
    expect(warnings.length).toBeGreaterThan(0);
    for (const line of warnings) {
      for (const secret of [alice.access_token, alice.refresh_token, apiAToken, RS_SECRETS.ordersApi, SECRETS.apiA]) {
        expect(line).not.toContain(secret);
      }
    }
  });
});
