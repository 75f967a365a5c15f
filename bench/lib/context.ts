import type { BenchSecrets } from './bench-config.js';
import type { LoadSettings } from './load.js';
import type { BenchRedis } from './redis-server.js';
import type { Row } from './report.js';

/** The soak scenario's run: a fixed request rate for a long time (bench/scenarios/soak.ts). */
export interface SoakSettings {
  /** Requests per second over all connections. */
  rate: number;
  /** Seconds at that rate before memory and latency count. */
  warmupS: number;
  durationS: number;
  /** Seconds between two memory samples of the server. */
  sampleEveryS: number;
}

/** What every scenario receives from the runner. */
export interface BenchContext {
  settings: LoadSettings;
  soak: SoakSettings;
  quick: boolean;
  redis: BenchRedis;
  secrets: BenchSecrets;
  /** LATCH_WORKERS values the workers scenario compares (--workers, default 1,2). */
  workerCounts: number[];
  /** Another Latch build's dist/src/main.js (--baseline=DIR), measured beside this one where a scenario supports it. */
  baselineMain?: string;
  /** Progress line on stderr (the table goes to stdout). */
  log(message: string): void;
}

/** What a scenario gives back: rows for the table and raw measurements for the JSON file. */
export interface ScenarioResult {
  rows: Row[];
  raw: Record<string, unknown>;
}
