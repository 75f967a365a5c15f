import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { ResourceServer } from 'latch/resource-server';
import { cloneIntoTestRealm } from '../support/rs-jest-realm.js';
import { ORDERS_API, rsConfig } from '../support/rs-config.js';
import { startLatchWith, type RsTestLatch } from '../support/rs-latch.js';
import { aliceTokens } from '../support/rs-tokens.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';

let redis: TestRedis;
let latch: RsTestLatch;
let key: JWK;
let token: string;
const warnings: string[] = [];
const servers: ResourceServer[] = [];

function resourceServer(privateKey: JWK): ResourceServer {
  const rs = new ResourceServer({
    issuer: latch.url,
    client: { method: 'private_key_jwt', clientId: 'orders-api-jwt', privateKey },
    audience: ORDERS_API,
    logger: { warn: (details, message) => void warnings.push(`${message} ${JSON.stringify(details)}`) },
  });
  servers.push(rs);
  return rs;
}

beforeAll(async () => {
  cloneIntoTestRealm();
  redis = await startRedis();
  const config = await rsConfig();
  key = config.ordersApiJwtKey;
  latch = await startLatchWith(redis.url, config.file);
  token = (await aliceTokens(latch.url)).access_token;
});
afterAll(async () => {
  await Promise.all(servers.map((rs) => rs.close()));
  await latch.close();
  await redis.close();
});

describe('private_key_jwt client authentication (RFC 7523)', () => {
  it('introspects with a signed assertion, a fresh one per request (Latch refuses a replayed jti)', async () => {
    const rs = resourceServer(key);
    expect((await rs.verify(token)).sub).toBe('sub-alice');
    expect((await rs.verify(token)).sub).toBe('sub-alice');
  });

  it('answers 503 when the assertion is signed with a key Latch does not know', async () => {
    const other = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
    await expect(resourceServer({ ...other, alg: 'ES256' }).verify(token)).rejects.toMatchObject({ status: 503, code: 'ERR_INTROSPECTION_UNAVAILABLE' });
    expect(warnings.at(-1)).toContain('introspection answered 401 invalid_client');
  });

  it('never logs the private key', () => {
    for (const line of warnings) expect(line).not.toContain(String(key.d));
  });
});
