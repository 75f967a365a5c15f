import { Redis } from 'ioredis';
import { RedisStore } from '../../adapters/redis/redis-store.js';
import { LiveUpdates, type LiveKind } from '../../src/live/live-updates.js';
import { createLogger } from '../../src/log/logger.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';

/** One "instance": its own Redis connection, store and LiveUpdates, recording what it heard. */
function instance(url: string, recheckMs = 500) {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const live = new LiveUpdates(new RedisStore(redis, Buffer.alloc(32, 7)), createLogger('silent'), { recheckMs });
  const heard: Array<[LiveKind, string | undefined]> = [];
  live.on('client', (id) => heard.push(['client', id]));
  live.on('api', (id) => heard.push(['api', id]));
  return {
    live,
    heard,
    close: async () => {
      live.close();
      await redis.quit();
    },
  };
}

async function until(check: () => boolean, ms = 3000): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

describe('live updates', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.close();
  });

  it('tells this process at once and another instance the id that changed', async () => {
    const a = instance(redis.url);
    const b = instance(redis.url);
    try {
      // Both subscribed and past their first read (which refreshes everything).
      await until(() => a.heard.length >= 2 && b.heard.length >= 2);
      a.heard.length = 0;
      b.heard.length = 0;
      await a.live.publish('client', 'shop');
      expect(a.heard).toEqual([['client', 'shop']]);
      await until(() => b.heard.length > 0, 1000);
      expect(b.heard).toEqual([['client', 'shop']]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('refreshes everything within the recheck interval when the announcement was lost', async () => {
    const a = instance(redis.url);
    const b = instance(redis.url, 300);
    try {
      await until(() => a.heard.length >= 2 && b.heard.length >= 2);
      b.heard.length = 0;
      // A change whose announcement nobody hears: the counter moved, pub/sub said nothing.
      await redis.client.incr('latch:live:version');
      const took = await until(() => b.heard.length > 0, 1000);
      expect(took).toBeLessThan(1000);
      expect(b.heard).toEqual(expect.arrayContaining([['client', undefined], ['api', undefined]]));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('refreshes everything after its subscription comes back', async () => {
    const b = instance(redis.url, 60_000);
    try {
      await until(() => b.heard.length >= 2);
      b.heard.length = 0;
      await redis.client.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await until(() => b.heard.length >= 2, 3000);
      expect(b.heard).toEqual(expect.arrayContaining([['client', undefined], ['api', undefined]]));
    } finally {
      await b.close();
    }
  });

  it('answers 503 when Redis cannot take the announcement', async () => {
    const a = instance(redis.url);
    try {
      await redis.stop();
      await expect(a.live.publish('api', 'orders')).rejects.toMatchObject({ error: 'temporarily_unavailable' });
    } finally {
      await redis.start();
      await a.close();
    }
  });
});
