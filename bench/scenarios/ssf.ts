import { createServer, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { API, API_SCOPE, CLIENTS, latchFileConfig } from '../lib/bench-config.js';
import { AdminClient } from '../lib/admin.js';
import { startServer, type ChildServer } from '../lib/child-server.js';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import { EXAMPLE_APP_MODULE, exampleApiName, RESOURCE_SERVER_MODULE, resourceServerMissing } from '../lib/dependencies.js';
import { startLatch } from '../lib/latch.js';
import { clientCredentials, userAccessToken } from '../lib/oauth.js';
import { measurePropagation, type PropagationResult } from '../lib/propagation.js';
import { skippedRow, type Row } from '../lib/report.js';
import { startRsApi } from '../lib/rs-api.js';

const SECTION = 'Shared Signals';
const SSF_API = 'urn:latch:ssf';
const FAN_OUT = 100;

/** One account per destructive step (as USERS in bench-config.ts). */
const SSF_USERS = {
  pubsub: { sub: 'sub-pia', username: 'pia', password: 'pia-password-1234' },
  push: { sub: 'sub-pete', username: 'pete', password: 'pete-password-123' },
  poll: { sub: 'sub-paula', username: 'paula', password: 'paula-password-12' },
  fanOut: { sub: 'sub-fanny', username: 'fanny', password: 'fanny-password-12' },
};

/** The bench config plus the Shared Signals API: the Orders API's client owns the streams. */
function ssfConfig() {
  const base = latchFileConfig();
  return {
    ...base,
    ssf: { maxStreamsPerReceiver: 2 * FAN_OUT + 10, minVerificationIntervalSeconds: 1 },
    scopes: { ...base.scopes, 'ssf.manage': 'Manage event streams' },
    resourceServers: [...base.resourceServers, { audience: SSF_API, name: 'Shared Signals', scopes: ['ssf.manage'] }],
    clients: base.clients.map((c) => (c.client_id === CLIENTS.introspector[0] ? { ...c, grant_types: ['client_credentials'], scope: 'ssf.manage', resources: [SSF_API] } : c)),
    accounts: [...base.accounts, ...Object.values(SSF_USERS).map((u) => ({ ...u, roles: [] }))],
  };
}

/** A receiver for the fan-out: one HTTP server, one path per stream; counts the SETs each got. */
async function fanOutReceiver(): Promise<{ url: string; server: Server; received: Map<string, number> }> {
  const received = new Map<string, number>();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.set(req.url!, (received.get(req.url!) ?? 0) + 1);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server, received };
}

async function stream(issuer: string, token: string, body: object): Promise<string> {
  const response = await fetch(`${issuer}/ssf/streams`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await response.json()) as { stream_id?: string };
  if (response.status !== 201 || !json.stream_id) throw new Error(`creating a stream answered ${response.status}`);
  return json.stream_id;
}

/** `runs` revoke-all calls of one account: median and p99 of the call's own time (ms). */
async function revokeTimes(admin: AdminClient, username: string, runs: number, settle: () => Promise<void> = async () => {}): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    await settle();
    const started = performance.now();
    await admin.revokeAccount(username);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]! * 100) / 100;
  return { p50: at(0.5), p99: at(0.99) };
}

/**
 * Revoke → first denial at a cached resource server fed by Shared Signals push, by poll, and by
 * Latch's Redis pub/sub, side by side (the same measurement as the revocation scenario); then the
 * cost of one revoke-all with 0 and with 100 streams (the revoke call itself), and how long until
 * all 100 push receivers have the SET.
 */
export async function ssfScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { redis, secrets, settings } = ctx;
  await redis.client.flushall();
  const latch = await startLatch(redis.url, secrets, [], {}, ssfConfig());
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const servers: ChildServer[] = [];
  const receivers: Server[] = [];
  try {
    const admin = await AdminClient.connect(latch.url);
    const missing = resourceServerMissing() ?? ('unavailable' in admin ? admin.unavailable : undefined);
    if (missing || 'unavailable' in admin) {
      rows.push(skippedRow(SECTION, 'revoke → first denial (push, poll, pub/sub)', missing!, 'push within 2× pub/sub'));
      return { rows, raw: { skipped: missing } };
    }
    const options = { connections: settings.connections, beforeMs: 2000, afterMs: 2000 };

    // 1. Propagation side by side.
    const results: Record<string, PropagationResult> = {};
    for (const [source, user] of [['pubsub', SSF_USERS.pubsub], ['push', SSF_USERS.push], ['poll', SSF_USERS.poll]] as const) {
      ctx.log(`ssf: propagation through ${source}`);
      const token = await userAccessToken(latch.url, user, API_SCOPE, API);
      const api =
        source === 'pubsub'
          ? await startRsApi(ctx, 'cached', latch.url)
          : await startServer('ssf-rs-api', {
              delivery: source, issuer: latch.url, audience: API, scope: API_SCOPE, introspector: CLIENTS.introspector,
              resourceServerModule: RESOURCE_SERVER_MODULE, exampleAppModule: EXAMPLE_APP_MODULE,
            });
      servers.push(api);
      results[source] = await measurePropagation({ url: `${api.url}/orders`, method: 'GET', headers: { authorization: `Bearer ${token}` }, accepted: (status) => status === 200 }, () => admin.revokeAccount(user.username), options);
      await api.close();
    }
    raw.propagation = results;
    const reference = results.pubsub!.firstDenialMs;
    for (const [source, label] of [['pubsub', 'Redis pub/sub'], ['push', 'SSF push (RFC 8935)'], ['poll', 'SSF poll (RFC 8936, long poll)']] as const) {
      const r = results[source]!;
      const denial = r.firstDenialMs === undefined ? 'no denial seen' : `first denial at +${r.firstDenialMs} ms after the revoke returned`;
      const met = source === 'push' && reference !== undefined && r.firstDenialMs !== undefined ? r.firstDenialMs <= 2 * Math.max(reference, 1) : undefined;
      rows.push({
        section: SECTION,
        name: `revoke → first denial, ${exampleApiName()} cached, fed by ${label}`,
        rps: r.rps,
        value: `${denial}; ${r.staleAccepts} stale accepts of ${r.after} (last sent at +${r.staleWindowMs} ms); revoke call ${r.revokeMs} ms`,
        target: source === 'push' ? 'within 2× pub/sub' : undefined,
        met,
      });
    }

    // 2. Fan-out: the revoke call with 0 and with 100 streams, and delivery to 100 push receivers.
    ctx.log('ssf: fan-out');
    const runs = ctx.quick ? 20 : 100;
    const without = await revokeTimes(admin, SSF_USERS.fanOut.username, runs);
    const token = await clientCredentials(latch.url, CLIENTS.introspector, 'ssf.manage', SSF_API);
    const rx = await fanOutReceiver();
    receivers.push(rx.server);
    for (let i = 0; i < FAN_OUT; i++) {
      await stream(latch.url, token, {
        delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${rx.url}/rx/${i}` },
        events_requested: ['https://schemas.openid.net/secevent/caep/event-type/session-revoked'],
      });
    }
    const started = performance.now();
    await admin.revokeAccount(SSF_USERS.fanOut.username);
    const revoked = performance.now();
    while (rx.received.size < FAN_OUT && performance.now() - started < 60_000) await new Promise((r) => setTimeout(r, 1));
    const allPushed = performance.now();
    // Each call on a Latch that has finished pushing the previous call's SETs: the call itself, not
    // the call queued behind 100 signatures and pushes of the last one on the same 2 cores.
    const total = () => [...rx.received.values()].reduce((a, b) => a + b, 0);
    let expected = total();
    const delivered = async () => {
      const waitFrom = performance.now();
      while (total() < expected && performance.now() - waitFrom < 10_000) await new Promise((r) => setTimeout(r, 1));
      expected = total() + FAN_OUT;
    };
    const withStreams = await revokeTimes(admin, SSF_USERS.fanOut.username, runs, delivered);
    // And back to back, each call while the previous call's pushes are still going out.
    const backToBack = await revokeTimes(admin, SSF_USERS.fanOut.username, runs);
    raw.fanOut = { without, withStreams, backToBack, firstRevokeMs: revoked - started, allPushedMs: allPushed - started, receivers: rx.received.size };
    rows.push({
      section: SECTION,
      name: `one revoke-all, ${FAN_OUT} push streams vs none: the revoke call`,
      value: `p50 ${withStreams.p50} ms, p99 ${withStreams.p99} ms with ${FAN_OUT} streams; p50 ${without.p50} ms, p99 ${without.p99} ms with none (${runs} calls each, each after the previous fan-out was delivered); back to back with ${FAN_OUT} streams (pushes of the previous call still going out): p50 ${backToBack.p50} ms, p99 ${backToBack.p99} ms`,
      target: 'the revoke call does not slow down (p50 within 2× of none)',
      met: withStreams.p50 <= 2 * Math.max(without.p50, 0.5),
    });
    rows.push({
      section: SECTION,
      name: `one revoke-all → all ${FAN_OUT} push receivers have the SET`,
      value: `${rx.received.size} of ${FAN_OUT} receivers within ${Math.round(allPushed - started)} ms of the revoke call (the call itself took ${Math.round((revoked - started) * 100) / 100} ms)`,
      met: rx.received.size === FAN_OUT ? undefined : false,
    });
    return { rows, raw };
  } finally {
    for (const s of servers) await s.close().catch(() => {});
    for (const r of receivers) {
      r.closeAllConnections();
      r.close();
    }
    await latch.close();
  }
}
