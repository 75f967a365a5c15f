import { API, API_SCOPE, CLIENTS } from '../lib/bench-config.js';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import { startLatch } from '../lib/latch.js';
import { measure, type LoadResult, type LoadTarget } from '../lib/load.js';
import { basic, clientCredentials, postForm } from '../lib/oauth.js';
import { loadCells, ratio, type Row } from '../lib/report.js';

const SECTION = 'Workers';

function introspectTarget(url: string, token: string): LoadTarget {
  return {
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(CLIENTS.introspector) },
    bodies: [new URLSearchParams({ token }).toString()],
    accepted: (status, body) => status === 200 && body.startsWith('{"active":true'),
  };
}

function tokenTarget(url: string): LoadTarget {
  return {
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(CLIENTS.svc) },
    bodies: [new URLSearchParams({ grant_type: 'client_credentials', scope: API_SCOPE, resource: API }).toString()],
    accepted: (status) => status === 200,
  };
}

/** Latch as `npm start` runs it with LATCH_WORKERS=n: introspection and client-credentials issuance. */
async function measureWith(ctx: BenchContext, workers: number): Promise<{ workers: number; introspect: LoadResult; token: LoadResult }> {
  const latch = await startLatch(ctx.redis.url, ctx.secrets, [], { LATCH_WORKERS: String(workers) });
  try {
    const token = await clientCredentials(latch.url, CLIENTS.svc, API_SCOPE, API);
    const answer = await postForm(`${latch.url}/introspect`, { token }, CLIENTS.introspector);
    if (answer.json?.active !== true) throw new Error(`Latch with ${workers} worker(s) did not answer active: ${answer.text}`);
    ctx.log(`workers: Latch /introspect with LATCH_WORKERS=${workers}`);
    const introspect = await measure(introspectTarget(`${latch.url}/introspect`, token), ctx.settings);
    ctx.log(`workers: Latch /token (client credentials) with LATCH_WORKERS=${workers}`);
    const issued = await measure(tokenTarget(`${latch.url}/token`), ctx.settings);
    return { workers, introspect, token: issued };
  } finally {
    await latch.close();
  }
}

/**
 * The same server with 1, 2, … worker processes (`--workers`, default 1,2), back to back: how
 * Latch scales with the cores it is given. The load generator and Redis run on the same machine,
 * so on a small box they compete with the workers for the same cores (docs/benchmarks.md).
 */
export async function workersScenario(ctx: BenchContext): Promise<ScenarioResult> {
  await ctx.redis.client.flushall();
  const results = [];
  for (const workers of ctx.workerCounts) results.push(await measureWith(ctx, workers));
  const [first] = results;
  const label = (n: number) => `${n} worker${n === 1 ? '' : 's'}`;
  const rows: Row[] = [];
  for (const kind of ['introspect', 'token'] as const) {
    for (const r of results) {
      const subject = kind === 'introspect' ? 'Latch /introspect' : 'Latch /token (client credentials)';
      rows.push({
        section: SECTION,
        name: `${subject}, LATCH_WORKERS=${r.workers}`,
        ...loadCells(r[kind]),
        vs: r === first ? 'reference' : `${ratio(r[kind].rps, first![kind].rps)}× ${label(first!.workers)}, p99 ${ratio(r[kind].p99, first![kind].p99)}×`,
      });
    }
  }
  return { rows, raw: { results } };
}
