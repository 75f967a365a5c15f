import { ResourceServer, type ResourceServerOptions } from 'latch/resource-server';
import { BRIEF_API, ORDERS_API, RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { startLatchWith, type RsTestLatch } from '../support/rs-latch.js';
import { adminRevoke, adminRevokeAccount, aliceTokens, revokeAsOrdersWeb, serviceToken } from '../support/rs-tokens.js';
import { freePort, startRedis, type TestRedis } from '../support/redis-server.js';

let redis: TestRedis;
let latch: RsTestLatch;
const servers: ResourceServer[] = [];

function cachingServer(overrides: Partial<ResourceServerOptions> = {}): ResourceServer {
  const rs = new ResourceServer({
    issuer: latch.url,
    client: { clientId: 'orders-api', clientSecret: RS_SECRETS.ordersApi },
    audience: ORDERS_API,
    cache: { maxTtlSeconds: 300, revocationEvents: { redisUrl: redis.url } },
    logger: { warn: () => {} },
    ...overrides,
  });
  servers.push(rs);
  return rs;
}

/** Publishes a docs/events.md v1 body on Latch's Redis by hand (for bodies Latch does not send). */
async function publish(event: Record<string, unknown>): Promise<number> {
  return redis.client.publish('latch:events', JSON.stringify({ v: 1, type: 'revocation', reason: 'test', actor: 'test', at: Date.now(), ...event }));
}

/** Waits (bounded) until `condition` holds: pub/sub delivery is asynchronous. */
async function eventually(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never happened: ${what}`);
}

/** Verifies `token` and says whether Latch was asked. */
async function asks(rs: ResourceServer, token: string): Promise<boolean> {
  const before = latch.introspections();
  await rs.verify(token);
  return latch.introspections() > before;
}

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatchWith(redis.url, (await rsConfig()).file);
});
afterAll(async () => {
  await Promise.all(servers.map((rs) => rs.close()));
  await latch.close();
  await redis.close();
});

describe('introspection cache (opt-in) with revocation events', () => {
  it('reuses an active answer instead of asking Latch again', async () => {
    const rs = cachingServer();
    await rs.ready();
    const { access_token } = await aliceTokens(latch.url);
    expect(await asks(rs, access_token)).toBe(true);
    expect(await asks(rs, access_token)).toBe(false);
    expect(rs.cache!.size).toBe(1);
  });

  it('drops a token revoked at Latch when its event arrives: the next request is refused, in the same step', async () => {
    const rs = cachingServer();
    await rs.ready();
    const { access_token } = await aliceTokens(latch.url);
    await rs.verify(access_token);
    expect(await asks(rs, access_token)).toBe(false);

    // RFC 7009 at Latch; Latch publishes the event (docs/events.md), the cache hears it.
    await revokeAsOrdersWeb(latch.url, access_token);
    await eventually(() => rs.cache!.size === 0, 'the cache drops the revoked token');
    await expect(rs.verify(access_token)).rejects.toMatchObject({ status: 401, error: 'invalid_token' });
  });

  it('an admin revoking the user drops every token of that user and no one else\'s', async () => {
    const rs = cachingServer();
    await rs.ready();
    const first = (await aliceTokens(latch.url)).access_token;
    const second = (await aliceTokens(latch.url, 'openid orders:read')).access_token;
    const machine = await serviceToken(latch.url);
    for (const token of [first, second, machine]) await rs.verify(token);
    expect(rs.cache!.size).toBe(3);
    await adminRevokeAccount(latch.url, 'alice');
    await eventually(() => rs.cache!.size === 1, 'alice\'s entries are dropped');
    expect(await asks(rs, machine)).toBe(false);
    await expect(rs.verify(first)).rejects.toMatchObject({ status: 401, error: 'invalid_token' });
    await expect(rs.verify(second)).rejects.toMatchObject({ status: 401, error: 'invalid_token' });
  });

  it('a client event drops that client\'s tokens; a security event drops nothing; an unknown scope drops everything', async () => {
    const rs = cachingServer();
    await rs.ready();
    const user = (await aliceTokens(latch.url)).access_token;
    const machine = await serviceToken(latch.url);
    await rs.verify(user);
    await rs.verify(machine);
    await adminRevoke(latch.url, '/admin/clients/svc-orders/revoke');
    await eventually(() => rs.cache!.size === 1, 'the client\'s entry is dropped');
    expect(await asks(rs, user)).toBe(false);

    // Latch cannot be made to publish these two: a conforming body is published by hand.
    await redis.client.publish('latch:events', JSON.stringify({ v: 1, type: 'security', kind: 'impossible-travel', sub: 'sub-alice', actor: 'latch', at: Date.now() }));
    await publish({ scope: 'token', token_sha256: 'not-this-one' });
    await eventually(() => rs.cache!.generation >= 3, 'both events are processed');
    expect(rs.cache!.size).toBe(1);

    await publish({ scope: 'something-new' });
    await eventually(() => rs.cache!.size === 0, 'an unknown scope empties the cache');
  });

  it('never caches an inactive answer or an error', async () => {
    const rs = cachingServer();
    await rs.ready();
    const unknown = 'A'.repeat(43);
    const before = latch.introspections();
    await expect(rs.verify(unknown)).rejects.toMatchObject({ status: 401 });
    await expect(rs.verify(unknown)).rejects.toMatchObject({ status: 401 });
    expect(latch.introspections() - before).toBe(2);

    const { access_token } = await aliceTokens(latch.url);
    await latch.stop();
    await expect(rs.verify(access_token)).rejects.toMatchObject({ status: 503 });
    await latch.start();
    expect(rs.cache!.size).toBe(0);
    expect(await asks(rs, access_token)).toBe(true);
  });

  it('keeps an answer no longer than the token lives (exp bounds the TTL)', async () => {
    const rs = cachingServer({ audience: BRIEF_API });
    await rs.ready();
    const token = await serviceToken(latch.url, 'brief:read', BRIEF_API);
    const auth = await rs.verify(token);
    expect(rs.cache!.size).toBe(1);
    await new Promise((r) => setTimeout(r, auth.exp! * 1000 - Date.now() + 50));
    await expect(rs.verify(token)).rejects.toMatchObject({ status: 401, error: 'invalid_token' });
  });

  it('bypasses the cache while revocation events cannot be received', async () => {
    const rs = cachingServer({ cache: { maxTtlSeconds: 300, revocationEvents: { redisUrl: `redis://127.0.0.1:${await freePort()}` } } });
    const { access_token } = await aliceTokens(latch.url);
    expect(await asks(rs, access_token)).toBe(true);
    expect(await asks(rs, access_token)).toBe(true);
    expect(rs.cache!.size).toBe(0);
  });

  it('empties and bypasses the cache when the subscription drops, and starts again once resubscribed', async () => {
    const events = await startRedis();
    try {
      const rs = cachingServer({ cache: { maxTtlSeconds: 300, revocationEvents: { redisUrl: events.url } } });
      await rs.ready();
      const { access_token } = await aliceTokens(latch.url);
      await rs.verify(access_token);
      expect(await asks(rs, access_token)).toBe(false);
      await events.stop();
      await eventually(() => !rs.cache!.live, 'the cache notices the lost subscription');
      expect(rs.cache!.size).toBe(0);
      expect(await asks(rs, access_token)).toBe(true);
      expect(await asks(rs, access_token)).toBe(true);
      await events.start();
      await eventually(() => rs.cache!.live, 'the cache resumes once resubscribed');
      expect(await asks(rs, access_token)).toBe(true);
      expect(await asks(rs, access_token)).toBe(false);
    } finally {
      await events.close();
    }
  });

  it('is off by default: every request asks Latch', async () => {
    const rs = cachingServer({ cache: undefined });
    const { access_token } = await aliceTokens(latch.url);
    expect(rs.cache).toBeUndefined();
    expect(await asks(rs, access_token)).toBe(true);
    expect(await asks(rs, access_token)).toBe(true);
  });
});
