import { startLatch } from '../support/latch-server.js';
import { startRedis } from '../support/redis-server.js';

async function startupLogs(redisArgs: string[]): Promise<string> {
  const redis = await startRedis(redisArgs);
  const latch = await startLatch(redis.url);
  try {
    // The check runs in the background at start-up: one round trip.
    await latch.store.ping();
    await new Promise((r) => setTimeout(r, 100));
    return latch.logs.join('');
  } finally {
    await latch.close();
    await redis.close();
  }
}

describe('Redis eviction policy at start-up', () => {
  it('warns when Redis may evict keys (an evicted revocation epoch revives revoked tokens)', async () => {
    const logs = await startupLogs(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    expect(logs).toMatch(/"maxmemoryPolicy":"allkeys-lru".*"msg":"Redis may evict keys \(maxmemory-policy is not noeviction\)/);
  });

  it('says nothing with noeviction', async () => {
    const logs = await startupLogs(['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction']);
    expect(logs).not.toContain('maxmemoryPolicy');
  });
});
