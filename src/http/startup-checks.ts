import type { RedisClient } from '../../adapters/redis/connect.js';
import type { LatchConfig } from '../config/load.js';
import { configWarnings } from '../config/warnings.js';
import type { Logger } from '../log/logger.js';
import { warnIfEvicting } from './eviction-check.js';

/**
 * What a deployment should hear about once, at start-up (by the primary when LATCH_WORKERS > 1,
 * not once per worker): a config that looks inconsistent, and a Redis that may evict keys.
 */
export async function warnAtStartup(config: LatchConfig, redis: RedisClient, logger: Logger): Promise<void> {
  for (const warning of configWarnings(config)) logger.warn({ field: warning.field }, warning.message);
  await warnIfEvicting(redis, logger);
}
