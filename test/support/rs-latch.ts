import type { LatchFileConfig } from '../../src/config/schema.js';
import { startLatch, type TestLatch } from './latch-server.js';

export type RsTestLatch = TestLatch;

/** startLatch() with another file config (see rs-config.ts). */
export function startLatchWith(redisUrl: string, file: LatchFileConfig): Promise<RsTestLatch> {
  return startLatch(redisUrl, { file });
}
