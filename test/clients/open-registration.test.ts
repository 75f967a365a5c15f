import { startLatch, type TestLatch } from '../support/latch-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { testFileConfig } from '../support/test-config.js';

/**
 * Open registration (`registration.open`): anyone may register without an initial access token,
 * under `registration.openPolicy`; `/reg` is rate limited per address (`rateLimits.registration`).
 */
let redis: TestRedis;
let latch: TestLatch;

beforeAll(async () => {
  redis = await startRedis();
  const base = testFileConfig();
  latch = await startLatch(redis.url, {
    file: {
      ...base,
      rateLimits: { ...base.rateLimits, registration: { perAddress: 4 } },
      registration: { enabled: true, open: true, openPolicy: { grant_types: ['authorization_code'], scope: 'openid', resources: [], httpsOnly: true } },
    },
  });
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

async function register(metadata: Record<string, unknown>) {
  const response = await fetch(`${latch.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
  return { status: response.status, headers: response.headers, json: (await response.json()) as Record<string, unknown> };
}

describe('open registration', () => {
  it('registers without an initial access token, within the open policy (its scope when none is asked)', async () => {
    const created = await register({ redirect_uris: ['https://open.example/cb'] });
    expect(created).toMatchObject({ status: 201, json: { scope: 'openid', grant_types: ['authorization_code'], resources: [] } });
    expect(await register({ redirect_uris: ['https://open.example/cb'], scope: 'openid a:read' })).toMatchObject({
      status: 400, json: { error: 'invalid_client_metadata', error_description: 'scope: "a:read" is not allowed by the registration policy' },
    });
  });

  it('limits registrations per address: past the budget, 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof register>> | undefined;
    for (let i = 0; i < 4; i++) {
      last = await register({ redirect_uris: ['https://open.example/cb'] });
      statuses.push(last.status);
    }
    expect(statuses.at(-1)).toBe(429);
    expect(last!.json).toMatchObject({ error: 'temporarily_unavailable' });
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
