/**
 * When a worker dies: how long to wait before starting it again, or to give up. A worker that
 * keeps crashing (a bad deploy, Redis rejecting every connection) must not spin the CPUs forever
 * or hide in a log full of restarts: more than `maxDeaths` within `windowMs`, over all workers,
 * is a crash loop and the primary stops loudly. Otherwise the delay is 100 ms, doubling with each
 * death still in the window, at most 5 s — a single death is repaired at once.
 */
export class RestartPolicy {
  readonly #deaths: number[] = [];

  constructor(
    readonly maxDeaths = 10,
    readonly windowMs = 60_000,
  ) {}

  /** Records a death at `now`; returns the restart delay in ms, or undefined for "give up". */
  onDeath(now = Date.now()): number | undefined {
    this.#deaths.push(now);
    while (this.#deaths[0]! <= now - this.windowMs) this.#deaths.shift();
    const recent = this.#deaths.length;
    if (recent > this.maxDeaths) return undefined;
    return Math.min(100 * 2 ** (recent - 1), 5000);
  }

  /** Deaths within the window (for the log line). */
  get recentDeaths(): number {
    return this.#deaths.length;
  }
}
