import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchSecrets } from './lib/bench-config.js';
import { cpuSnapshot, foreignCores } from './lib/foreign-cpu.js';
import type { BenchContext, ScenarioResult } from './lib/context.js';
import { startRedis } from './lib/redis-server.js';
import { machine, markdownTable, skippedRow, type Row } from './lib/report.js';
import { backchannelScenario } from './scenarios/backchannel.js';
import { clusterScenario } from './scenarios/cluster.js';
import { dpopScenario } from './scenarios/dpop.js';
import { introspectionScenario } from './scenarios/introspection.js';
import { profileScenario } from './scenarios/profile.js';
import { resourceServerScenario } from './scenarios/resource-server.js';
import { revocationScenario } from './scenarios/revocation.js';
import { soakScenario } from './scenarios/soak.js';
import { ssfScenario } from './scenarios/ssf.js';
import { storageScenario } from './scenarios/storage.js';
import { tokenExchangeScenario } from './scenarios/token-exchange.js';
import { workersScenario } from './scenarios/workers.js';

const USAGE = `npm run bench [-- options]
  --quick            short runs (5 s, 1 s warm-up), 100k instead of 1M stored tokens, a 30 s soak
  --only=a,b         scenarios to run: introspection, resource-server, dpop, revocation, ssf,
                     backchannel, storage, soak, cluster, workers, token-exchange, profile
  --workers=1,2      LATCH_WORKERS values the workers scenario runs Latch with (default 1,2)
  --duration=S       seconds per measured run (default 10)
  --warmup=S         seconds of discarded warm-up before each run (default 2)
  --connections=N    autocannon connections (default 32)
  --soak-minutes=M   measured minutes of the soak, after its warm-up (default 5; --quick 0.5)
  --soak-rate=N      the soak's fixed request rate, req/s over all connections (default 2000)
  --baseline=DIR     also measure the Latch built in DIR (DIR/dist/src/main.js, e.g. a clone of main
                     after npm ci && npm run build) in the introspection and cluster scenarios: A/B in one run
  --profile          also run Latch introspection under --cpu-prof and summarise the top frames
  --quiet-wait=S     before starting, wait up to S seconds (default 120) for other processes to
                     leave the CPUs alone (< 0.3 cores busy); every load row notes competing CPU`;

const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<ScenarioResult>> = {
  introspection: introspectionScenario,
  'resource-server': resourceServerScenario,
  dpop: dpopScenario,
  revocation: revocationScenario,
  ssf: ssfScenario,
  backchannel: backchannelScenario,
  storage: storageScenario,
  soak: soakScenario,
  cluster: clusterScenario,
  workers: workersScenario,
  'token-exchange': tokenExchangeScenario,
  profile: profileScenario,
};

/** Waits (bounded) until processes outside the bench use < 0.3 cores; returns what it last saw. */
async function waitForQuiet(maxSeconds: number, log: (m: string) => void): Promise<{ foreignCores?: number; waitedS: number }> {
  const started = Date.now();
  for (;;) {
    const before = cpuSnapshot();
    await new Promise((r) => setTimeout(r, 2000));
    const foreign = foreignCores(before, cpuSnapshot());
    const waitedS = Math.round((Date.now() - started) / 1000);
    if (foreign === undefined || foreign < 0.3) return { foreignCores: foreign, waitedS };
    if (waitedS >= maxSeconds) {
      log(`other processes still use ${foreign} cores after ${waitedS} s; measuring anyway (rows note it)`);
      return { foreignCores: foreign, waitedS };
    }
    log(`other processes use ${foreign} cores; waiting for a quieter machine`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      'soak-minutes': { type: 'string' },
      'soak-rate': { type: 'string' },
      profile: { type: 'boolean', default: false },
      'quiet-wait': { type: 'string' },
      workers: { type: 'string' },
      baseline: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const quick = values.quick!;
  const names = values.only
    ? values.only.split(',').map((s) => s.trim())
    : ['introspection', 'resource-server', 'revocation', 'ssf', 'backchannel', 'storage', 'cluster', 'workers', 'token-exchange', 'soak', ...(values.profile ? ['profile'] : [])];
  for (const name of names) if (!SCENARIOS[name]) throw new Error(`unknown scenario "${name}"\n${USAGE}`);

  const settings = {
    connections: Number(values.connections ?? 32),
    durationS: Number(values.duration ?? (quick ? 5 : 10)),
    warmupS: Number(values.warmup ?? (quick ? 1 : 2)),
  };
  const soakS = Math.round(Number(values['soak-minutes'] ?? (quick ? 0.5 : 5)) * 60);
  const soak = {
    rate: Number(values['soak-rate'] ?? 2000),
    durationS: soakS,
    // A minute for JIT and caches; RSS settles longer, which the verdict allows for (scenarios/soak.ts).
    warmupS: quick ? 10 : 60,
    sampleEveryS: soakS >= 120 ? 5 : 1,
  };
  if (!(soak.durationS > 0) || !(soak.rate > 0)) throw new Error(`--soak-minutes and --soak-rate must be positive numbers\n${USAGE}`);
  const workerCounts = (values.workers ?? '1,2').split(',').map((s) => Number(s.trim()));
  if (workerCounts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--workers must list whole numbers of workers, e.g. 1,2\n${USAGE}`);
  const started = new Date();
  const log = (message: string) => process.stderr.write(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
  const quiet = await waitForQuiet(Number(values['quiet-wait'] ?? 120), log);
  const redis = await startRedis();
  const baselineMain = values.baseline ? resolve(values.baseline, 'dist/src/main.js') : undefined;
  if (baselineMain && !existsSync(baselineMain)) throw new Error(`--baseline: ${baselineMain} does not exist (build that tree first)`);
  const ctx: BenchContext = { settings, soak, quick, redis, secrets: await benchSecrets(), workerCounts, baselineMain, log };

  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  try {
    for (const name of names) {
      try {
        const result = await SCENARIOS[name]!(ctx);
        rows.push(...result.rows);
        raw[name] = result.raw;
      } catch (err) {
        // A failed scenario is reported, never silently dropped; the others still run.
        log(`${name} failed: ${(err as Error).stack ?? String(err)}`);
        rows.push(skippedRow(name, '(scenario)', `failed: ${(err as Error).message.split('\n')[0]}`));
        raw[name] = { error: (err as Error).message };
      }
    }
  } finally {
    await redis.close();
  }

  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const report = { quietAtStart: quiet, started: started.toISOString(), finished: new Date().toISOString(), command, machine: machine(), settings: { ...settings, soak }, quick, rows, raw };
  const dir = new URL('../../bench/results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${started.toISOString().replace(/[:.]/g, '-')}.json`, dir);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);

  const m = report.machine;
  process.stdout.write(
    `\n${markdownTable(rows)}\n\n${m.cpus} × ${m.cpuModel}, Node ${m.node}; ${settings.connections} connections, ` +
      `${settings.durationS} s per run after ${settings.warmupS} s warm-up${quick ? ' (--quick)' : ''}` +
      `${names.includes('soak') ? `; soak: ${soak.rate} req/s for ${soak.durationS} s after ${soak.warmupS} s warm-up` : ''}\nJSON: ${file.pathname}\n`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
