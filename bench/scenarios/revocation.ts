import { API, API_SCOPE, CLIENTS, USERS } from '../lib/bench-config.js';
import { AdminClient } from '../lib/admin.js';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import { exampleApiName, resourceServerMissing } from '../lib/dependencies.js';
import { startLatch } from '../lib/latch.js';
import { measurePropagation, type PropagationResult, type PropagationTarget } from '../lib/propagation.js';
import { basic, userAccessToken } from '../lib/oauth.js';
import { skippedRow, type Row } from '../lib/report.js';
import { startRsApi } from '../lib/rs-api.js';

const SECTION = 'Revocation propagation';

/**
 * Under load on one user's token, revoke the user (admin kill switch) and count requests sent
 * after the revoke returned that were still accepted, and when the first denial arrived:
 * uncached (every call introspected) and through the example API's revocation-aware cache.
 */
export async function revocationScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { redis, secrets, settings } = ctx;
  await redis.client.flushall();
  const latch = await startLatch(redis.url, secrets);
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const uncachedName = 'Uncached: every call introspected';
  const cachedName = `Cached: ${exampleApiName()} with the revocation-aware cache`;
  try {
    const admin = await AdminClient.connect(latch.url);
    if ('unavailable' in admin) {
      rows.push(skippedRow(SECTION, uncachedName, admin.unavailable, '0 stale accepts'), skippedRow(SECTION, cachedName, admin.unavailable, 'first denial ≤ 10 ms after revoke returns'));
      return { rows, raw: { skipped: admin.unavailable } };
    }
    const rsMissing = resourceServerMissing();
    const options = { connections: settings.connections, beforeMs: 2000, afterMs: 2000 };

    // Uncached: through the example API when the middleware exists, else /introspect itself.
    ctx.log('revocation: uncached');
    const uma = await userAccessToken(latch.url, USERS.propagationUncached, API_SCOPE, API);
    let uncached: PropagationResult;
    let subject: string;
    if (rsMissing) {
      subject = 'Latch POST /introspect directly (resource-server middleware not built)';
      const target: PropagationTarget = {
        url: `${latch.url}/introspect`,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(CLIENTS.introspector) },
        body: `token=${uma}`,
        accepted: (status, body) => status === 200 && body.includes('"active":true'),
      };
      uncached = await measurePropagation(target, () => admin.revokeAccount(USERS.propagationUncached.username), options);
    } else {
      subject = `${exampleApiName()} introspecting every call`;
      const api = await startRsApi(ctx, 'introspect', latch.url);
      const target: PropagationTarget = { url: `${api.url}/orders`, method: 'GET', headers: { authorization: `Bearer ${uma}` }, accepted: (status) => status === 200 };
      uncached = await measurePropagation(target, () => admin.revokeAccount(USERS.propagationUncached.username), options);
      await api.close();
    }
    raw.uncached = { subject, ...uncached };
    rows.push(propagationRow(`${uncachedName} (${subject})`, uncached, '0 stale accepts', uncached.staleAccepts === 0));

    if (rsMissing) {
      rows.push(skippedRow(SECTION, cachedName, rsMissing, 'first denial ≤ 10 ms after revoke returns'));
    } else {
      ctx.log('revocation: cached');
      const carl = await userAccessToken(latch.url, USERS.propagationCached, API_SCOPE, API);
      const api = await startRsApi(ctx, 'cached', latch.url);
      const target: PropagationTarget = { url: `${api.url}/orders`, method: 'GET', headers: { authorization: `Bearer ${carl}` }, accepted: (status) => status === 200 };
      const cached = await measurePropagation(target, () => admin.revokeAccount(USERS.propagationCached.username), options);
      await api.close();
      raw.cached = cached;
      rows.push(
        propagationRow(cachedName, cached, 'first denial ≤ 10 ms after revoke returns', cached.staleWindowMs <= 10 && cached.firstDenialMs !== undefined),
      );
    }
    return { rows, raw };
  } finally {
    await latch.close();
  }
}

function propagationRow(name: string, r: PropagationResult, target: string, met: boolean): Row {
  const denial =
    r.firstDenialMs === undefined
      ? 'no denial seen'
      : `first denial arrived at ${signed(r.firstDenialMs)} ms (request sent at ${signed(r.firstDeniedSentMs!)} ms)`;
  const stale = `${r.staleAccepts} stale accepts of ${r.after} sent after the revoke returned`;
  const last = r.staleAccepts ? ` (stale window: last accepted request sent at +${r.staleWindowMs} ms)` : '';
  const note = r.before.rejected ? `${r.before.rejected} of ${r.before.requests} rejected before the revoke` : undefined;
  return { section: SECTION, name, rps: r.rps, value: `${stale}${last}; ${denial}; revoke call took ${r.revokeMs} ms (times relative to the revoke returning)`, target, met: met && !r.before.rejected, note };
}

const signed = (ms: number) => (ms >= 0 ? `+${ms}` : String(ms));
