import { Writable } from 'node:stream';
import { RedisStore } from '../../adapters/redis/redis-store.js';
import { openRedis, type RedisClient } from '../../adapters/redis/connect.js';
import { rateLimitsSchema } from '../../src/config/schema.js';
import { LatchMetrics } from '../../src/http/metrics.js';
import { createLogger } from '../../src/log/logger.js';
import { RateLimiter } from '../../src/rate-limit/rate-limiter.js';
import { RateLimits } from '../../src/rate-limit/rate-limits.js';
import { redisCounters } from '../../src/rate-limit/redis-counters.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { awayFromWindowEnd } from './support.js';

/** What the in-memory limiter holds per window and instance (rate-limiter.ts). */
const MAX_KEYS = 100_000;

let redis: TestRedis;
let client: RedisClient;
const logs: string[] = [];

beforeAll(async () => {
  redis = await startRedis();
  client = await openRedis(redis.url);
});
afterAll(async () => {
  client.disconnect();
  await redis.close();
});

function limits(): RateLimits {
  const policy = rateLimitsSchema.parse({ windowSeconds: 3600, syncIntervalMs: 0, introspection: { perClient: 0, perAddress: 5 }, login: { perAddress: 5 } });
  const logger = createLogger('debug', new Writable({ write: (chunk, _enc, done) => done(void logs.push(String(chunk))) }));
  const store = new RedisStore(client, Buffer.from('limiter-test-hash-key-0123456789abcdef'));
  return new RateLimits(new RateLimiter(policy, redisCounters(store), logger), policy, { trustedProxies: 0, metrics: new LatchMetrics() });
}

/** The n-th address of 10.0.0.0/8. */
const address = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

describe('the in-memory rate limiter at its key maximum', () => {
  it('does not fail open: new addresses share one overflow budget, the login form refuses them, known addresses keep theirs', async () => {
    const policy = limits();
    try {
      // The whole test runs in one window.
      await awayFromWindowEnd(3600, 10_000);
      let refused = 0;
      for (let n = 0; n < MAX_KEYS; n++) if (policy.admitAddress('introspection', address(n))) refused++;
      expect(refused).toBe(0);
      // Addresses never seen before, beyond the maximum: 5 admitted together, then refused.
      const fresh = Array.from({ length: 8 }, (_, i) => policy.admitAddress('introspection', address(MAX_KEYS + i)));
      expect(fresh.map((refusal) => refusal?.status)).toEqual([undefined, undefined, undefined, undefined, undefined, 429, 429, 429]);
      expect(fresh[5]!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      // The login form fails closed for a new address (each attempt would cost a password hash).
      expect(policy.admitAddress('login', '192.0.2.1')?.status).toBe(429);
      // An address tracked before the table filled keeps its own budget.
      for (let i = 0; i < 4; i++) expect(policy.admitAddress('introspection', address(7))).toBeUndefined();
      expect(policy.admitAddress('introspection', address(7))?.status).toBe(429);
      expect(logs.filter((line) => line.includes('maximum number of keys'))).toHaveLength(1);
    } finally {
      policy.close();
    }
  });

  it('gives every key its own budget again in the next window, even before the background sync forgot the last one', () => {
    const logger = createLogger('silent');
    const store = new RedisStore(client, Buffer.from('limiter-test-hash-key-0123456789abcdef'));
    const limiter = new RateLimiter({ windowSeconds: 3600, syncIntervalMs: 0 }, redisCounters(store), logger);
    try {
      const start = Math.floor(Date.now() / 3_600_000) * 3_600_000;
      for (let n = 0; n < MAX_KEYS; n++) limiter.take('f', address(n), 1, start);
      const next = start + 3_600_000;
      expect([limiter.take('f', 'a', 1, next), limiter.take('f', 'b', 1, next), limiter.take('f', 'a', 1, next)].map((wait) => wait > 0)).toEqual([false, false, true]);
    } finally {
      limiter.close();
    }
  });
});
