import type { Logger } from './logger.js';

/**
 * One warning line per interval for a failure that repeats on every request (an outage at
 * production rates would otherwise write a line per request). The next line says how many were
 * left out; callers count every occurrence in a metric.
 */
export class WarningThrottle {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  #last = -Infinity;
  #suppressed = 0;

  constructor(logger: Logger, intervalMs = 10_000) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  warn(fields: Record<string, unknown>, message: string, now = Date.now()): void {
    if (now - this.#last < this.#intervalMs) {
      this.#suppressed++;
      return;
    }
    this.#last = now;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    this.#logger.warn(suppressed ? { ...fields, suppressed } : fields, message);
  }
}
