import type { Cluster, Redis } from 'ioredis';
import type { RedisTarget } from '../../src/config/redis-target.js';
import { startRedisCluster } from './redis-cluster.js';
import { startRedis } from './redis-server.js';

/** A running Redis topology for suites that must pass on every backend Latch supports. */
export interface TestBackend {
  target: RedisTarget;
  /** A plain client for assertions (not the one Latch uses). */
  client: Redis | Cluster;
  close(): Promise<void>;
}

async function oneServer(): Promise<TestBackend> {
  const redis = await startRedis();
  return { target: { kind: 'single', url: redis.url }, client: redis.client, close: () => redis.close() };
}

async function cluster(): Promise<TestBackend> {
  const redis = await startRedisCluster(3);
  return { target: redis.target, client: redis.client, close: () => redis.close() };
}

/** For `describe.each(backends)('… on %s', (_name, start) => …)`. */
export const backends: Array<[string, () => Promise<TestBackend>]> = [
  ['one server', oneServer],
  ['a 3-primary Redis Cluster', cluster],
];
