import { startRedisCluster } from '../../test/support/redis-cluster.js';
import { API, API_SCOPE, CLIENTS } from '../lib/bench-config.js';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import { startLatch } from '../lib/latch.js';
import { measure, type LoadResult, type LoadTarget } from '../lib/load.js';
import { basic, clientCredentials, postForm } from '../lib/oauth.js';
import { loadCells, ratio, type Row } from '../lib/report.js';

const SECTION = 'Redis Cluster';

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

/** Latch on one Redis and on a 3-primary cluster, measured back to back: what the cluster path costs. */
async function measureOn(
  ctx: BenchContext,
  label: string,
  redis: string | { clusterNodes: string },
  redisPids: Record<string, number | number[]>,
  main?: string,
): Promise<{ introspect: LoadResult; token: LoadResult }> {
  const env: Record<string, string> = typeof redis === 'string' ? {} : { REDIS_URL: '', REDIS_CLUSTER_NODES: redis.clusterNodes };
  const latch = await startLatch(typeof redis === 'string' ? redis : '', ctx.secrets, [], env, undefined, main);
  try {
    const token = await clientCredentials(latch.url, CLIENTS.svc, API_SCOPE, API);
    const answer = await postForm(`${latch.url}/introspect`, { token }, CLIENTS.introspector);
    if (answer.json?.active !== true) throw new Error(`Latch on ${label} did not answer active: ${answer.text}`);
    ctx.log(`cluster: Latch /introspect on ${label}`);
    const introspect = await measure(introspectTarget(`${latch.url}/introspect`, token), ctx.settings, { Latch: latch.pid, ...redisPids });
    ctx.log(`cluster: Latch /token (client credentials) on ${label}`);
    const issued = await measure(tokenTarget(`${latch.url}/token`), ctx.settings, { Latch: latch.pid, ...redisPids });
    return { introspect, token: issued };
  } finally {
    await latch.close();
  }
}

/**
 * Introspection and token issuance on one Redis server and on a 3-primary Redis Cluster (no
 * replicas, every process on this one machine). On a cluster introspection is two round trips
 * (the record, then its grant/account/client state on their own nodes) instead of one script.
 */
export async function clusterScenario(ctx: BenchContext): Promise<ScenarioResult> {
  await ctx.redis.client.flushall();
  const single = await measureOn(ctx, 'one Redis', ctx.redis.url, { Redis: ctx.redis.pid });
  const cluster = await startRedisCluster(3);
  let clustered: Awaited<ReturnType<typeof measureOn>>;
  let baseline: Awaited<ReturnType<typeof measureOn>> | undefined;
  try {
    const nodes = { clusterNodes: cluster.ports.map((p) => `127.0.0.1:${p}`).join(',') };
    clustered = await measureOn(ctx, 'a 3-primary cluster', nodes, { Redis: cluster.pids() });
    if (ctx.baselineMain) baseline = await measureOn(ctx, `a 3-primary cluster, baseline build`, nodes, { Redis: cluster.pids() }, ctx.baselineMain);
  } finally {
    await cluster.close();
  }
  const rows: Row[] = [
    { section: SECTION, name: 'Latch /introspect, one Redis', ...loadCells(single.introspect), vs: 'reference' },
    {
      section: SECTION,
      name: 'Latch /introspect, 3-primary cluster',
      ...loadCells(clustered.introspect),
      vs: `${ratio(clustered.introspect.rps, single.introspect.rps)}× one Redis, p99 ${ratio(clustered.introspect.p99, single.introspect.p99)}×`,
      target: '≥ 0.8× one Redis',
      met: (ratio(clustered.introspect.rps, single.introspect.rps) ?? 0) >= 0.8,
    },
    ...(baseline
      ? [{
          section: SECTION,
          name: `Latch /introspect, 3-primary cluster, baseline build (${ctx.baselineMain})`,
          ...loadCells(baseline.introspect),
          vs: `this build does ${ratio(clustered.introspect.rps, baseline.introspect.rps)}× its req/s`,
        }]
      : []),
    { section: SECTION, name: 'Latch /token (client credentials), one Redis', ...loadCells(single.token), vs: 'reference' },
    {
      section: SECTION,
      name: 'Latch /token (client credentials), 3-primary cluster',
      ...loadCells(clustered.token),
      vs: `${ratio(clustered.token.rps, single.token.rps)}× one Redis, p99 ${ratio(clustered.token.p99, single.token.p99)}×`,
    },
  ];
  return { rows, raw: { single, cluster: clustered, baseline } };
}
