import { ResourceServer } from 'latch/resource-server';
import { adminCall, adminToken } from '../support/admin.js';
import { ACCESS_TOKEN_TYPE, EXCHANGE_SECRETS, HISTORY_API, TOKEN_EXCHANGE, exchangeFileConfig, passwordOf } from '../support/exchange-config.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

/**
 * A resource server's cache (latch/resource-server) holding an exchanged token: the revocation
 * events of its subject's grant name the user and the *app's* client, not the gateway that holds
 * the token; the cache must drop it all the same.
 */
let redis: TestRedis;
let latch: TestLatch;
let rs: ResourceServer;

async function exchanged(username: string) {
  const { tokens } = await logIn(latch.url, await webClient(latch.url), { scope: 'openid offline_access a:read', username, password: passwordOf(username) });
  const { json } = await postForm(
    `${latch.url}/token`,
    { grant_type: TOKEN_EXCHANGE, subject_token: tokens.access_token, subject_token_type: ACCESS_TOKEN_TYPE, audience: HISTORY_API },
    ['gateway', EXCHANGE_SECRETS.gateway],
  );
  return { parent: tokens.access_token, token: json!.access_token as string };
}

/** Verifies at the cache; true when Latch was asked. */
async function asks(token: string): Promise<boolean> {
  const before = latch.introspections();
  await rs.verify(token).catch(() => undefined);
  return latch.introspections() > before;
}

async function eventually(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never happened: ${what}`);
}

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url, { file: exchangeFileConfig() });
  rs = new ResourceServer({
    issuer: latch.url,
    client: { clientId: 'api-history', clientSecret: EXCHANGE_SECRETS.history },
    audience: HISTORY_API,
    cache: { maxTtlSeconds: 300, revocationEvents: { redisUrl: redis.url } },
    logger: { warn: () => {} },
  });
  await rs.ready();
});
afterAll(async () => {
  await rs.close();
  await latch.close();
  await redis.close();
});

describe('a cached exchanged token dies with its subject token', () => {
  it("is dropped when the app revokes the user's token (RFC 7009): the event names the app, not the gateway", async () => {
    const { parent, token } = await exchanged('carol');
    expect((await rs.verify(token)).claims.act).toEqual({ sub: 'gateway' });
    expect(await asks(token)).toBe(false);
    expect((await postForm(`${latch.url}/revoke`, { token: parent }, ['web', SECRETS.web])).status).toBe(200);
    await eventually(async () => rs.cache!.size === 0, 'the cache dropped the exchanged token');
    await expect(rs.verify(token)).rejects.toMatchObject({ code: 'ERR_TOKEN_INACTIVE', status: 401 });
  });

  it("is dropped when the app is revoked for every user (a client event names the app)", async () => {
    const { token } = await exchanged('dave');
    await rs.verify(token);
    expect(await asks(token)).toBe(false);
    const admin = await adminToken(latch.url);
    expect((await adminCall(latch.url, 'POST', '/admin/clients/web/revoke', admin, { reason: 'test: compromised app' })).status).toBe(200);
    await eventually(async () => rs.cache!.size === 0, 'the cache dropped the exchanged token');
    await expect(rs.verify(token)).rejects.toMatchObject({ code: 'ERR_TOKEN_INACTIVE' });
  });
});
