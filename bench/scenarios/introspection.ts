import { SignJWT } from 'jose';
import { API, API_SCOPE, CLIENTS } from '../lib/bench-config.js';
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
  return { rows, raw: { limit, jwtVerify, latch: latchResult, baseline, stock } };
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
