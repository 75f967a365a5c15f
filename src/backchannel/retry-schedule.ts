import type { BackchannelLogoutConfig } from '../config/schema.js';

export type RetrySchedule = Pick<BackchannelLogoutConfig, 'maxAttempts' | 'initialBackoffMs' | 'maxBackoffMs'>;

/**
 * The wait before the next attempt after `failed` attempts (1 or more): `initialBackoffMs`
 * doubling with each failure, capped at `maxBackoffMs`, plus up to 10% of jitter so receivers that
 * come back are not hit by every queued token in the same millisecond. Undefined when the attempts
 * are spent: the delivery is given up.
 */
export function nextAttemptDelay(schedule: RetrySchedule, failed: number, random: () => number = Math.random): number | undefined {
  if (failed >= schedule.maxAttempts) return undefined;
  const base = Math.min(schedule.initialBackoffMs * 2 ** Math.min(failed - 1, 40), schedule.maxBackoffMs);
  return Math.round(base * (1 + 0.1 * random()));
}

/** The waits of a whole schedule, for the docs and tests: one per retry. */
export function scheduleOf(schedule: RetrySchedule): number[] {
  const waits: number[] = [];
  for (let failed = 1; ; failed++) {
    const wait = nextAttemptDelay(schedule, failed, () => 0);
    if (wait === undefined) return waits;
    waits.push(wait);
  }
}
