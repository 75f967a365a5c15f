import { SignJWT } from 'jose';
import { ADMIN_API, API, API_SCOPE, CLIENTS } from '../lib/bench-config.js';
import { startServer } from '../lib/child-server.js';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import { startLatch } from '../lib/latch.js';
import { measure, type LoadResult, type LoadTarget } from '../lib/load.js';
import { basic, clientCredentials, postForm } from '../lib/oauth.js';
import { loadCells, ratio, type Row } from '../lib/report.js';

const SECTION = 'Introspection';
const LIMIT_PREFIX = 'bench:limit:';
const STOCK_AUDIENCE = API;

const activeAnswer = (status: number, body: string) => status === 200 && body.startsWith('{"active":true');
/** Introspection answers put `active` wherever the serializer likes; accept it anywhere. */
const activeAnywhere = (status: number, body: string) => status === 200 && body.includes('"active":true');

function introspectTarget(url: string, token: string, authenticate: boolean): LoadTarget {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (authenticate) headers.authorization = basic(CLIENTS.introspector);
  return { url, headers, bodies: [new URLSearchParams({ token }).toString()], accepted: activeAnywhere };
}

/**
 * Latch's /introspect against three references, measured back to back in this run: the limit
 * (node:http + one Redis GET), local RS256 JWT verification, and stock oidc-provider.
 */
export async function introspectionScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { redis, secrets, settings } = ctx;
  await redis.client.flushall();

  ctx.log('introspection: issuing a token through Latch');
  let latch = await startLatch(redis.url, secrets);
  const token = await clientCredentials(latch.url, CLIENTS.svc, API_SCOPE, API);
  const answer = await postForm(`${latch.url}/introspect`, { token }, CLIENTS.introspector);
  if (answer.json?.active !== true) throw new Error(`Latch did not answer active for a fresh token: ${answer.text}`);
  await latch.close();

  ctx.log('introspection: limit (node:http + one Redis GET)');
  await redis.client.set(LIMIT_PREFIX + token, answer.text);
  const limitServer = await startServer('limit', { redisUrl: redis.url, keyPrefix: LIMIT_PREFIX });
  const limit = await measure({ ...introspectTarget(`${limitServer.url}/introspect`, token, true), accepted: activeAnswer }, settings, { limit: limitServer.pid, Redis: redis.pid });
  await limitServer.close();

  ctx.log('introspection: local RS256 JWT verification (jose)');
  const claims = { ...answer.json } as Record<string, unknown>;
  delete claims.active;
  delete claims.token_type;
  const jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: secrets.publicJwk.kid }).sign(secrets.privateKey);
  const jwtServer = await startServer('jwt-verify', { publicJwk: secrets.publicJwk, issuer: claims.iss, audience: API });
  const jwtVerify = await measure(introspectTarget(`${jwtServer.url}/introspect`, jwt, false), settings, { verifier: jwtServer.pid });
  await jwtServer.close();

  ctx.log('introspection: Latch /introspect');
  latch = await startLatch(redis.url, secrets);
  const latchResult = await measure(introspectTarget(`${latch.url}/introspect`, token, true), settings, { Latch: latch.pid, Redis: redis.pid });
  await latch.close();

  ctx.log('introspection: a client managed in Redis (admin API) against a config client, same call');
  const managed = await managedClientIntrospection(redis.url, secrets, settings);
  let baseline: LoadResult | undefined;
  if (ctx.baselineMain) {
    ctx.log(`introspection: baseline Latch (${ctx.baselineMain})`);
    // Its own token: the baseline may store records in an older format than this build.
    const other = await startLatch(redis.url, secrets, [], {}, undefined, ctx.baselineMain);
    const otherToken = await clientCredentials(other.url, CLIENTS.svc, API_SCOPE, API);
    baseline = await measure(introspectTarget(`${other.url}/introspect`, otherToken, true), settings, { Latch: other.pid, Redis: redis.pid });
    await other.close();
  }

  ctx.log('introspection: stock oidc-provider with a plain Redis adapter');
  const stockServer = await startServer('stock-provider', {
    redisUrl: redis.url,
    audience: STOCK_AUDIENCE,
    scope: API_SCOPE,
    jwks: secrets.jwks,
    tokenClient: CLIENTS.svc,
    introspector: CLIENTS.introspector,
  });
  const stockToken = await clientCredentials(stockServer.url, CLIENTS.svc, API_SCOPE, STOCK_AUDIENCE);
  const stockAnswer = await postForm(`${stockServer.url}/token/introspection`, { token: stockToken }, CLIENTS.introspector);
  if (stockAnswer.json?.active !== true) throw new Error(`stock oidc-provider did not answer active: ${stockAnswer.text}`);
  const stock = await measure(introspectTarget(`${stockServer.url}/token/introspection`, stockToken, true), settings, { stock: stockServer.pid, Redis: redis.pid });
  await stockServer.close();

  const rows = introspectionRows(limit, jwtVerify, latchResult, stock);
  if (baseline) rows.splice(3, 0, baselineRow(latchResult, baseline, limit, ctx.baselineMain!));
  rows.push(...managedRows(managed));
  return { rows, raw: { limit, jwtVerify, latch: latchResult, baseline, stock, managedConfig: managed.config, managedRedis: managed.managed } };
}

/**
 * Issue 15: introspection throughput with the caller's client (and its secret's keyed hash) in
 * Redis instead of the config file. Both callers introspect their own client-credentials token on
 * one Latch, back to back: the config client `svc`, then a client created through the admin API.
 */
async function managedClientIntrospection(redisUrl: string, secrets: BenchContext['secrets'], settings: BenchContext['settings']) {
  const latch = await startLatch(redisUrl, secrets);
  try {
    const admin = await clientCredentials(latch.url, CLIENTS.admin, 'admin:read admin:write', ADMIN_API);
    const created = await fetch(`${latch.url}/admin/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'bench-managed', grant_types: ['client_credentials'], scope: API_SCOPE, resources: [API], reason: 'bench' }),
    });
    const body = (await created.json()) as { client_secret?: string };
    if (created.status !== 201 && created.status !== 409) throw new Error(`could not create the managed client: ${created.status}`);
    const managedClient = ['bench-managed', body.client_secret!] as const;
    const configToken = await clientCredentials(latch.url, CLIENTS.svc, API_SCOPE, API);
    const managedToken = await clientCredentials(latch.url, managedClient, API_SCOPE, API);
    const own = (token: string, client: readonly [string, string]): LoadTarget => ({
      url: `${latch.url}/introspect`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client) },
      bodies: [new URLSearchParams({ token }).toString()],
      accepted: activeAnywhere,
    });
    // A B B A, half the duration each: a process's later runs are not its earlier ones (heap,
    // JIT), and on one Latch that order effect alone measured as a 12 % gap either way.
    const half = { ...settings, durationS: Math.max(1, settings.durationS / 2) };
    const runConfig = () => measure(own(configToken, CLIENTS.svc), half, { Latch: latch.pid });
    const runManaged = () => measure(own(managedToken, managedClient), half, { Latch: latch.pid });
    const config1 = await runConfig();
    const managed1 = await runManaged();
    const managed2 = await runManaged();
    const config2 = await runConfig();
    return { config: mean(config1, config2), managed: mean(managed1, managed2) };
  } finally {
    await latch.close();
  }
}

/** Two runs of one subject as one: means of rates, latencies and CPU; sums of failures. */
function mean(a: LoadResult, b: LoadResult): LoadResult {
  const avg = (x: number, y: number) => Math.round(((x + y) / 2) * 100) / 100;
  const cpuUs = a.cpuUs && b.cpuUs ? Object.fromEntries(Object.keys(a.cpuUs).map((k) => [k, avg(a.cpuUs![k]!, b.cpuUs![k] ?? a.cpuUs![k]!)])) : a.cpuUs;
  return {
    rps: Math.round((a.rps + b.rps) / 2), p50: avg(a.p50, b.p50), p90: avg(a.p90, b.p90), p99: avg(a.p99, b.p99), max: Math.max(a.max, b.max),
    responses: a.responses + b.responses, rejected: a.rejected + b.rejected, errors: a.errors + b.errors,
    foreignCores: a.foreignCores !== undefined && b.foreignCores !== undefined ? avg(a.foreignCores, b.foreignCores) : undefined, cpuUs,
  };
}

function managedRows({ config, managed }: { config: LoadResult; managed: LoadResult }): Row[] {
  const vsConfig = ratio(managed.rps, config.rps);
  return [
    { section: SECTION, name: 'Latch /introspect, caller a config client (own token)', ...loadCells(config), vs: 'reference for the next row' },
    {
      section: SECTION,
      name: 'Latch /introspect, caller a client managed in Redis (own token)',
      ...loadCells(managed),
      vs: `${vsConfig}× config client`,
      target: '≥ 0.95× config client (issue 15)',
      met: vsConfig !== undefined && vsConfig >= 0.95 && managed.rejected === 0,
    },
  ];
}

function baselineRow(latch: LoadResult, baseline: LoadResult, limit: LoadResult, main: string): Row {
  return {
    section: SECTION,
    name: `Latch POST /introspect, baseline build (${main})`,
    ...loadCells(baseline),
    vs: `${ratio(baseline.rps, limit.rps)}× limit; this build does ${ratio(latch.rps, baseline.rps)}× its req/s`,
  };
}

/** Issue 16's targets: ≥ 0.6× the limit, ≥ 1.2× local JWT verification, p99 ≤ 1.5× the limit's. */
function introspectionRows(limit: LoadResult, jwt: LoadResult, latch: LoadResult, stock: LoadResult): Row[] {
  const vsLimit = ratio(latch.rps, limit.rps);
  const vsJwt = ratio(latch.rps, jwt.rps);
  const p99VsLimit = ratio(latch.p99, limit.p99);
  return [
    { section: SECTION, name: 'Limit: node:http + form parse + 1 Redis GET', ...loadCells(limit), vs: 'reference' },
    { section: SECTION, name: 'Local RS256 JWT verify (jose, node:http)', ...loadCells(jwt), vs: `${ratio(jwt.rps, limit.rps)}× limit` },
    {
      section: SECTION,
      name: 'Latch POST /introspect (Basic client auth)',
      ...loadCells(latch),
      vs: `${vsLimit}× limit, ${vsJwt}× JWT, p99 ${p99VsLimit}× limit p99, ${ratio(latch.rps, stock.rps)}× stock`,
      target: '≥ 0.6× limit, ≥ 1.2× JWT, p99 ≤ 1.5× limit p99',
      met: vsLimit !== undefined && vsJwt !== undefined && p99VsLimit !== undefined && vsLimit >= 0.6 && vsJwt >= 1.2 && p99VsLimit <= 1.5 && latch.rejected === 0,
    },
    {
      section: SECTION,
      name: 'Stock oidc-provider /token/introspection (plain Redis adapter)',
      ...loadCells(stock),
      vs: `${ratio(stock.rps, limit.rps)}× limit`,
      target: '(expected about 0.15–0.2× limit)',
    },
  ];
}
