import { SignJWT } from 'jose';
import { API, API_SCOPE, CLIENTS } from '../lib/bench-config.js';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import { exampleApiName, resourceServerMissing } from '../lib/dependencies.js';
import { startLatch } from '../lib/latch.js';
import { measure, type LoadResult } from '../lib/load.js';
import { clientCredentials, postForm } from '../lib/oauth.js';
import { loadCells, ratio, skippedRow, type Row } from '../lib/report.js';
import { startRsApi, type RsMode } from '../lib/rs-api.js';

const SECTION = 'Resource server';

/**
 * The example API (`GET /orders`, needs orders:read) under load three ways: introspecting every
 * call through Latch, with the revocation-aware cache, and verifying a local RS256 JWT with jose.
 */
export async function resourceServerScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const missing = resourceServerMissing();
  const api = exampleApiName();
  const names = { jwt: `${api}, local RS256 JWT verify (jose)`, introspect: `${api}, introspecting every call`, cached: `${api}, revocation-aware cache` };
  if (missing) {
    return {
      rows: [
        skippedRow(SECTION, names.jwt, missing),
        skippedRow(SECTION, names.introspect, missing, '≥ 0.5× JWT'),
        skippedRow(SECTION, names.cached, missing, '≥ 0.9× JWT'),
      ],
      raw: { skipped: missing },
    };
  }
  const { redis, secrets, settings } = ctx;
  await redis.client.flushall();
  const latch = await startLatch(redis.url, secrets);
  try {
    const token = await clientCredentials(latch.url, CLIENTS.svc, API_SCOPE, API);
    const claims = { ...(await postForm(`${latch.url}/introspect`, { token }, CLIENTS.introspector)).json } as Record<string, unknown>;
    delete claims.active;
    delete claims.token_type;
    const jwt = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: secrets.publicJwk.kid }).sign(secrets.privateKey);

    const results: Partial<Record<RsMode, LoadResult>> = {};
    for (const mode of ['jwt', 'introspect', 'cached'] as const) {
      ctx.log(`resource server: ${names[mode]}`);
      const server = await startRsApi(ctx, mode, latch.url);
      const bearer = mode === 'jwt' ? jwt : token;
      const check = await fetch(`${server.url}/orders`, { headers: { authorization: `Bearer ${bearer}` } });
      if (check.status !== 200) throw new Error(`${mode}: GET /orders answered ${check.status}: ${(await check.text()).slice(0, 200)}`);
      results[mode] = await measure(
        { url: `${server.url}/orders`, method: 'GET', headers: { authorization: `Bearer ${bearer}` }, accepted: (status) => status === 200 },
        settings,
      );
      await server.close();
    }
    const { jwt: j, introspect: i, cached: c } = results as Record<RsMode, LoadResult>;
    const rows: Row[] = [
      { section: SECTION, name: names.jwt, ...loadCells(j), vs: 'reference' },
      { section: SECTION, name: names.introspect, ...loadCells(i), vs: `${ratio(i.rps, j.rps)}× JWT`, target: '≥ 0.5× JWT', met: (ratio(i.rps, j.rps) ?? 0) >= 0.5 && i.rejected === 0 },
      {
        section: SECTION,
        name: `${names.cached} (one hot token)`,
        ...loadCells(c),
        vs: `${ratio(c.rps, j.rps)}× JWT`,
        target: '≥ 0.9× JWT',
        met: (ratio(c.rps, j.rps) ?? 0) >= 0.9 && c.rejected === 0,
      },
    ];
    return { rows, raw: results };
  } finally {
    await latch.close();
  }
}
