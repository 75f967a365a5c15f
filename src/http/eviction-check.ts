import type { RedisClient } from '../../adapters/redis/connect.js';
import type { Logger } from '../log/logger.js';

/**
 * Warns at start-up when Redis may evict keys (docs/operations.md, "maxmemory with noeviction"):
 * an evicted revocation epoch brings revoked tokens back, an evicted account record locks its
 * user out. Managed Redis services may refuse CONFIG: then nothing is said.
 */
export async function warnIfEvicting(redis: RedisClient, logger: Logger): Promise<void> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as unknown as string[];
    const policy = reply[1];
    if (policy && policy !== 'noeviction') {
      logger.warn(
        { maxmemoryPolicy: policy },
        'Redis may evict keys (maxmemory-policy is not noeviction): an evicted revocation epoch brings revoked tokens back to life. Set maxmemory-policy noeviction (docs/operations.md)',
      );
    }
  } catch {
    // CONFIG disabled or renamed (managed services), or Redis not answering yet: nothing to say.
  }
}
