import type { BenchSecrets } from './bench-config.js';
import type { LoadSettings } from './load.js';
import type { BenchRedis } from './redis-server.js';
import type { Row } from './report.js';

/** What every scenario receives from the runner. */
export interface BenchContext {
  settings: LoadSettings;
  quick: boolean;
  redis: BenchRedis;
  secrets: BenchSecrets;
  /** Progress line on stderr (the table goes to stdout). */
  log(message: string): void;
}

/** What a scenario gives back: rows for the table and raw measurements for the JSON file. */
export interface ScenarioResult {
  rows: Row[];
  raw: Record<string, unknown>;
}
