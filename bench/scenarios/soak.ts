import { randomBytes } from 'node:crypto';
import { API, API_SCOPE, FILLER_ACCOUNTS } from '../lib/bench-config.js';
import type { BenchContext, ScenarioResult, SoakSettings } from '../lib/context.js';
import { runFixedRate, type FixedRateResult } from '../lib/fixed-rate.js';
import { startLatch } from '../lib/latch.js';
import { MEMORY_PROBE_ARGS, MemorySampler, sampleMemory, slope, type MemorySample } from '../lib/memory-sampler.js';
import { isActive, userTokens } from '../lib/oauth.js';
import { usedMemory } from '../lib/redis-server.js';
import type { Row } from '../lib/report.js';
import { SOAK_MIX, SoakTraffic, type KindCounts, type SoakKind } from '../lib/soak-traffic.js';
import { TokenWriter } from '../lib/token-writer.js';

const SECTION = 'Soak';
/** Pre-written user tokens the soak introspects (10 per grant, over the 20 filler accounts). */
const USER_TOKENS = 10_000;
/** Logins whose refresh tokens are rotated during the soak (one refresh in flight per chain). */
const REFRESH_CHAINS = 32;
/** The pre-written tokens live an hour (lib/token-writer.ts); the soak must end before they do. */
const MAX_SOAK_S = 55 * 60;

/**
 * "Flat" memory, as least-squares slopes in MB per minute after the warm-up:
 * - the live V8 heap (used size right after each full GC V8 ran) over the whole window: at
 *   2,000 req/s, 1 MB/min is 8.7 bytes per request, so a leak of one small object per request,
 *   or of a few hundred bytes per issued token, shows well above it;
 * - RSS over the last half of the window: RSS settles for the first 4–8 minutes of load (malloc
 *   arenas and V8's heap reservation grow in steps of a few MB, 20–30 MB in all, then stay flat;
 *   docs/benchmarks.md), while a native leak keeps growing to the end. Settling gave last-half
 *   slopes up to 3.3 MB/min over 5-minute windows; 5 MB/min is a leak of ~44 bytes per request
 *   at 2,000 req/s. Longer soaks bound native growth tighter.
 */
const FLAT = { liveHeapMBPerMin: 1, rssLastHalfMBPerMin: 5 };
/** Shorter windows do not judge: too few full GCs, and RSS still climbing from start-up. */
const MIN_JUDGED_S = 120;

const fillerAccount = (grant: number) => FILLER_ACCOUNTS[grant % FILLER_ACCOUNTS.length]!.sub;
const round = (n: number | undefined, digits = 2) => (n === undefined ? undefined : Math.round(n * 10 ** digits) / 10 ** digits);

/**
 * A fixed request rate against the real Latch for minutes: a realistic mix (lib/soak-traffic.ts)
 * with zero errors expected, the server's RSS and V8 heap sampled every few seconds through a
 * probe preloaded into it (no endpoint, no forced GC), and per-minute latency.
 */
export async function soakScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { redis, secrets, settings, soak, log } = ctx;
  if (soak.warmupS + soak.durationS > MAX_SOAK_S) {
    throw new Error(`a soak of ${soak.warmupS + soak.durationS} s outlives its pre-written tokens (1 h); use --soak-minutes ≤ ${(MAX_SOAK_S - soak.warmupS) / 60}`);
  }
  await redis.client.flushall();
  const latch = await startLatch(redis.url, secrets, MEMORY_PROBE_ARGS);
  let writer: TokenWriter | undefined;
  try {
    log(`soak: ${REFRESH_CHAINS} logins for refresh-token chains, ${USER_TOKENS / 1000}k user tokens`);
    const refreshTokens: string[] = [];
    let template: string | undefined;
    const users = Array.from({ length: REFRESH_CHAINS }, (_, i) => FILLER_ACCOUNTS[i % FILLER_ACCOUNTS.length]!);
    for (let i = 0; i < users.length; i += 4) {
      for (const tokens of await Promise.all(users.slice(i, i + 4).map((user) => userTokens(latch.url, user, `offline_access ${API_SCOPE}`, API)))) {
        if (!tokens.refreshToken) throw new Error('a login with offline_access returned no refresh token');
        refreshTokens.push(tokens.refreshToken);
        template ??= tokens.accessToken;
      }
    }
    writer = new TokenWriter(redis.url, secrets.tokenHashKey, await TokenWriter.templatesOf(redis.url, secrets.tokenHashKey, template!), randomBytes(8).toString('hex'));
    await writer.connect();
    await writer.write('u', 0, USER_TOKENS, fillerAccount);
    if (!(await isActive(latch.url, writer.token('u', 0)))) throw new Error('a written token does not introspect as active');
    const userToken = () => writer!.token('u', Math.floor(Math.random() * USER_TOKENS));
    const traffic = new SoakTraffic(userToken, refreshTokens);

    const origin = performance.now();
    await sampleMemory(latch, origin); // fails fast when the probe is not there
    const redisMB = async () => ({ redisUsedMB: round((await usedMemory(redis.client)) / 1024 / 1024)! });
    const sampler = new MemorySampler(latch, soak.sampleEveryS * 1000, redisMB, origin);
    const progress = setInterval(() => {
      const last = sampler.samples.at(-1);
      const live = sampler.samples.flatMap((s) => s.liveHeapMB).at(-1);
      if (last) log(`soak: ${Math.round(last.atS)} s, Latch RSS ${last.rssMB} MB, live heap ${live ?? '?'} MB, Redis ${last.extra.redisUsedMB} MB`);
    }, 60_000);
    log(`soak: ${soak.rate} req/s for ${soak.warmupS} s warm-up + ${soak.durationS} s, ${settings.connections} connections`);
    let load: FixedRateResult;
    try {
      load = await runFixedRate({
        url: latch.url,
        request: traffic.request(),
        rate: soak.rate,
        connections: settings.connections,
        warmupS: soak.warmupS,
        durationS: soak.durationS,
        kindOf: () => traffic.lastKind,
        origin,
      });
    } finally {
      clearInterval(progress);
      await sampler.stop();
    }
    const samples = sampler.samples;
    const memory = memoryFigures(samples, soak);
    const raw = { settings: soak, mix: SOAK_MIX, counts: traffic.counts, refreshChains: { started: REFRESH_CHAINS, lost: traffic.chainsLost }, load, memory, sampleMisses: sampler.misses, samples };
    return { rows: soakRows(soak, load, traffic.counts, traffic.chainsLost, memory, sampler.misses.length), raw };
  } finally {
    writer?.close();
    await latch.close();
    await redis.client.flushall();
  }
}

interface MemoryFigures {
  samples: number;
  windowS: number;
  /** Full GCs V8 ran after the warm-up (each gives one live-heap point). */
  fullGcs: number;
  /** RSS and V8 heap used at the first and last sample after the warm-up, MB. */
  rss: [number, number] | undefined;
  heapUsed: [number, number] | undefined;
  /** Live heap (after a full GC): median of the first and of the last five full GCs, MB. */
  liveHeap: [number, number] | undefined;
  redisUsed: [number, number] | undefined;
  /** MB per minute after the warm-up (least squares); `rssLastHalf` over the last half only. */
  slopes: { rss?: number; rssLastHalf?: number; liveHeap?: number; heapUsed?: number; redisUsed?: number };
  /** Cores Latch used on average after the warm-up. */
  latchCores?: number;
  verdict: 'flat' | 'growing' | 'too short to judge';
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

function memoryFigures(all: MemorySample[], soak: SoakSettings): MemoryFigures {
  const after = all.filter((s) => s.atS >= soak.warmupS);
  const first = after[0];
  const last = after.at(-1);
  const windowS = first && last ? last.atS - first.atS : 0;
  const pair = (f: (s: MemorySample) => number | undefined): [number, number] | undefined => {
    const [x, y] = [first && f(first), last && f(last)];
    return x === undefined || y === undefined ? undefined : [x, y];
  };
  const perMinute = (points: Array<[number, number]>) => round(slope(points.map(([t, v]) => [t / 60, v])), 3);
  const live = after.flatMap((s) => s.liveHeapMB.map((v): [number, number] => [s.atS, v]));
  const rss = after.map((s): [number, number] => [s.atS, s.rssMB]);
  const slopes = {
    rss: perMinute(rss),
    rssLastHalf: perMinute(rss.slice(Math.floor(rss.length / 2))),
    liveHeap: perMinute(live),
    heapUsed: perMinute(after.map((s) => [s.atS, s.heapUsedMB])),
    redisUsed: perMinute(after.filter((s) => s.extra.redisUsedMB !== undefined).map((s) => [s.atS, s.extra.redisUsedMB!])),
  };
  const latchCores = first?.cpuS !== undefined && last?.cpuS !== undefined && windowS > 0 ? round((last.cpuS - first.cpuS) / windowS) : undefined;
  let verdict: MemoryFigures['verdict'] = 'too short to judge';
  if (windowS >= MIN_JUDGED_S && live.length >= 5 && slopes.liveHeap !== undefined && slopes.rssLastHalf !== undefined) {
    verdict = slopes.liveHeap <= FLAT.liveHeapMBPerMin && slopes.rssLastHalf <= FLAT.rssLastHalfMBPerMin ? 'flat' : 'growing';
  }
  return {
    samples: after.length,
    windowS: round(windowS, 1)!,
    fullGcs: live.length,
    rss: pair((s) => s.rssMB),
    heapUsed: pair((s) => s.heapUsedMB),
    liveHeap: live.length ? [median(live.slice(0, 5).map(([, v]) => v)), median(live.slice(-5).map(([, v]) => v))] : undefined,
    redisUsed: pair((s) => s.extra.redisUsedMB),
    slopes,
    latchCores,
    verdict,
  };
}

const signed = (n: number | undefined) => (n === undefined ? '?' : `${n >= 0 ? '+' : ''}${n}`);
const thousands = (n: number) => n.toLocaleString('en-US');

function soakRows(soak: SoakSettings, load: FixedRateResult, counts: Record<SoakKind, KindCounts>, chainsLost: number, memory: MemoryFigures, sampleMisses: number): Row[] {
  const wrong = Object.values(counts).reduce((sum, c) => sum + c.wrong, 0);
  const errors = load.non2xx + load.socketErrors;
  const achieved = Math.round((load.rps / load.targetRate) * 100) / 100;
  const minutes = Math.round((soak.durationS / 60) * 10) / 10;
  const others = Object.entries(load.statuses)
    .filter(([status]) => status !== '200')
    .map(([status, n]) => `${n}× ${status}`)
    .join(', ');
  const notes: string[] = [];
  if (load.foreignCores !== undefined && load.foreignCores >= 0.1) notes.push(`other processes used ${load.foreignCores} cores meanwhile`);
  if (chainsLost) notes.push(`${chainsLost} refresh chains ended`);
  const rows: Row[] = [
    {
      section: SECTION,
      name: `Latch, fixed-rate mix at ${soak.rate} req/s for ${minutes} min (after ${soak.warmupS} s warm-up)`,
      rps: load.rps,
      p50: load.p50,
      p99: load.p99,
      value:
        `${thousands(load.responses)} responses, ${errors} errors (${load.non2xx} non-2xx${others ? `: ${others}` : ''}, ${load.socketErrors} socket errors/timeouts), ` +
        `${wrong} wrong answers; Latch used ${memory.latchCores ?? '?'} cores`,
      vs: `${achieved}× target rate`,
      target: '0 errors, 0 wrong answers, ≥ 0.99× target rate',
      met: errors === 0 && wrong === 0 && achieved >= 0.99,
      note: notes.length ? notes.join('; ') : undefined,
    },
  ];
  for (const w of load.windows) {
    rows.push({
      section: SECTION,
      name: `  minute ${Math.floor(w.fromS / 60) + 1} (${w.fromS}–${w.toS} s)`,
      rps: w.rps,
      p50: w.p50,
      p99: w.p99,
      value: `${w.non2xx + w.socketErrors} errors`,
    });
  }
  for (const kind of Object.keys(SOAK_MIX) as SoakKind[]) {
    const l = load.byKind[kind];
    const c = counts[kind];
    if (!l) continue;
    rows.push({
      section: SECTION,
      name: `  ${kind} (${SOAK_MIX[kind]} %)`,
      rps: Math.round(l.responses / soak.durationS),
      p50: l.p50,
      p99: l.p99,
      value: `${thousands(l.responses)} responses, ${l.non2xx} non-2xx, ${c.wrong} wrong${c.fellBack ? `; drawn ${c.fellBack}× with an empty pool (sent as introspect-user)` : ''}`,
    });
  }
  const { slopes } = memory;
  const judged = memory.verdict !== 'too short to judge';
  const span = (p: [number, number] | undefined, perMin: number | undefined) => (p ? `${p[0]} → ${p[1]} MB (${signed(perMin)} MB/min)` : '?');
  rows.push({
    section: SECTION,
    name: `Latch memory over the soak (${memory.samples} samples, every ${soak.sampleEveryS} s; ${memory.fullGcs} full GCs)`,
    value:
      `${memory.verdict}: live V8 heap after full GCs ${span(memory.liveHeap, slopes.liveHeap)}, ` +
      `RSS ${span(memory.rss, slopes.rss)}, over the last half ${signed(slopes.rssLastHalf)} MB/min; ` +
      `V8 heap used at the samples ${span(memory.heapUsed, slopes.heapUsed)} (garbage sawtooth, not judged); ` +
      `Redis ${span(memory.redisUsed, slopes.redisUsed)} (stored tokens, expected to grow)`,
    target: `flat: live heap ≤ ${FLAT.liveHeapMBPerMin} MB/min, RSS over the last half ≤ ${FLAT.rssLastHalfMBPerMin} MB/min (judged from ${MIN_JUDGED_S / 60} min)`,
    met: judged ? memory.verdict === 'flat' : undefined,
    note: sampleMisses ? `${sampleMisses} samples missed (the probe did not answer within 3 s)` : undefined,
  });
  return rows;
}
