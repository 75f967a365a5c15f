import { API, API_SCOPE, CLIENTS, HISTORY_API, INTERNAL_JWT_AUDIENCE, USERS } from '../lib/bench-config.js';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import { startLatch } from '../lib/latch.js';
import { measure, type LoadResult, type LoadTarget } from '../lib/load.js';
import { basic, clientCredentials, postForm, userAccessToken } from '../lib/oauth.js';
import { loadCells, ratio, type Row } from '../lib/report.js';

const SECTION = 'Token exchange';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

function tokenTarget(url: string, client: readonly [string, string], form: Record<string, string>, issued?: string): LoadTarget {
  return {
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client) },
    bodies: [new URLSearchParams(form).toString()],
    accepted: (status, body) => status === 200 && (issued === undefined || body.includes(`"issued_token_type":"${issued}"`)),
  };
}

/**
 * The cost of a token exchange (RFC 8693) at /token, both kinds, against the simplest grant
 * (client credentials), back to back on one Latch: each exchange authenticates the client, judges
 * the subject token with the introspection decision (one Redis round trip), then signs a JWT
 * (RS256, no write) or writes an opaque token under the subject's grant (one UPSERT).
 */
export async function tokenExchangeScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { redis, secrets, settings } = ctx;
  await redis.client.flushall();
  const latch = await startLatch(redis.url, secrets);
  try {
    const url = `${latch.url}/token`;
    ctx.log('token-exchange: a subject token (a user sign-in) and a check of each kind');
    const subject = await userAccessToken(latch.url, USERS.exchange, API_SCOPE, API);
    const exchange = (audience: string, requested: string) => ({
      grant_type: TOKEN_EXCHANGE,
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: requested,
      audience,
    });
    const jwtForm = exchange(INTERNAL_JWT_AUDIENCE, JWT_TYPE);
    const opaqueForm = exchange(HISTORY_API, ACCESS_TOKEN_TYPE);
    for (const form of [jwtForm, opaqueForm]) {
      const check = await postForm(url, form, CLIENTS.gateway);
      if (check.status !== 200) throw new Error(`token exchange answered ${check.status}: ${check.text.slice(0, 300)}`);
    }
    await clientCredentials(latch.url, CLIENTS.svc, API_SCOPE, API);

    ctx.log('token-exchange: /token client credentials (reference)');
    const cc = await measure(tokenTarget(url, CLIENTS.svc, { grant_type: 'client_credentials', scope: API_SCOPE, resource: API }), settings);
    ctx.log('token-exchange: /token exchange for a signed JWT');
    const jwt = await measure(tokenTarget(url, CLIENTS.gateway, jwtForm, JWT_TYPE), settings);
    ctx.log('token-exchange: /token exchange for an opaque token of the subject\'s grant');
    const opaque = await measure(tokenTarget(url, CLIENTS.gateway, opaqueForm, ACCESS_TOKEN_TYPE), settings);
    return { rows: rows(cc, jwt, opaque), raw: { clientCredentials: cc, jwt, opaque } };
  } finally {
    await latch.close();
  }
}

function rows(cc: LoadResult, jwt: LoadResult, opaque: LoadResult): Row[] {
  const vs = (r: LoadResult) => `${ratio(r.rps, cc.rps)}× client credentials, p99 ${ratio(r.p99, cc.p99)}×`;
  return [
    { section: SECTION, name: 'Latch /token client_credentials (opaque token, one write)', ...loadCells(cc), vs: 'reference' },
    { section: SECTION, name: 'Latch /token token exchange → signed JWT (RS256, no write)', ...loadCells(jwt), vs: vs(jwt) },
    {
      section: SECTION,
      name: "Latch /token token exchange → opaque token of the subject's grant (one write; the grant's index grows during the run)",
      ...loadCells(opaque),
      vs: vs(opaque),
    },
  ];
}
