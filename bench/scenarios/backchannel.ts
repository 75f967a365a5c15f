import { createServer, type Server } from 'node:http';
import * as oidc from 'openid-client';
import { BrowserSession } from '../../test/support/browser-session.js';
import { freePort } from '../../test/support/redis-server.js';
import { AdminClient } from '../lib/admin.js';
import { latchFileConfig, REDIRECT_URI } from '../lib/bench-config.js';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import { startLatch } from '../lib/latch.js';
import { ratio, skippedRow, type Row } from '../lib/report.js';

const SECTION = 'Back-channel logout fan-out';
const CLIENTS = 100;
const SECRET = 'fanout-client-secret-0123456789abcdef01';

/** One relying party's back-channel logout endpoint: its own HTTP server, noting when each token arrived. */
interface Receiver {
  server: Server;
  url: string;
  arrivals: number[];
}

async function receiver(): Promise<Receiver> {
  const port = await freePort();
  const r: Receiver = { server: createServer(), url: `http://127.0.0.1:${port}/backchannel-logout`, arrivals: [] };
  r.server.on('request', (req, res) => {
    req.resume();
    req.on('end', () => {
      r.arrivals.push(performance.now());
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise<void>((resolve) => r.server.listen(port, '127.0.0.1', resolve));
  return r;
}

/** The users: per repetition, one signed in to the 100 back-channel clients, one to the 100 plain ones. */
const user = (kind: 'bcl' | 'plain', rep: number) => ({ sub: `sub-fan-${kind}-${rep}`, username: `fan-${kind}-${rep}`, password: `fan-${kind}-${rep}-password` });

/** Signs `who` in to `clientId` in `browser` (one browser session: the login once, then a consent per client). */
async function signIn(issuer: string, browser: BrowserSession, clientId: string, who: { username: string; password: string }): Promise<void> {
  const client = await oidc.discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(client, {
    redirect_uri: REDIRECT_URI, scope: 'openid', state, prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  let step = await browser.follow(url.href, issuer);
  for (let i = 0; i < 4 && step.html; i++) {
    const response = step.html.includes('/login"')
      ? await browser.submit(step.url, step.html, '/login', { username: who.username, password: who.password })
      : await browser.submit(step.url, step.html, '/confirm');
    const location = response.headers.get('location');
    if (!location) throw new Error(`login step failed with ${response.status}`);
    step = await browser.follow(new URL(location, step.url).href, issuer);
  }
  await oidc.authorizationCodeGrant(client, new URL(step.url), { pkceCodeVerifier: verifier, expectedState: state });
}

/**
 * The cost of back-channel logout on the kill switch: one revoke-all of a user signed in to 100
 * clients with back-channel URIs (each its own receiver), against the same revoke of a user signed
 * in to 100 clients without: the time of the revoke call itself (which only queues the logout
 * tokens), and the time until all 100 receivers got theirs (sent in the background).
 */
export async function backchannelScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { redis, secrets, quick } = ctx;
  await redis.client.flushall();
  const reps = quick ? 1 : 3;
  const receivers = await Promise.all(Array.from({ length: CLIENTS }, () => receiver()));
  const base = latchFileConfig();
  const app = (id: string, uri?: string) => ({
    client_id: id, client_secret: SECRET, grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scope: 'openid',
    ...(uri ? { backchannel_logout_uri: uri } : {}),
  });
  const file = {
    ...base,
    clients: [...base.clients, ...receivers.map((r, i) => app(`bcl-${i}`, r.url)), ...receivers.map((_, i) => app(`plain-${i}`))],
    accounts: [...base.accounts, ...Array.from({ length: reps }, (_, rep) => [user('bcl', rep), user('plain', rep)]).flat().map((u) => ({ ...u, roles: [] }))],
  };
  const latch = await startLatch(redis.url, secrets, [], {}, file);
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  try {
    const admin = await AdminClient.connect(latch.url);
    if ('unavailable' in admin) {
      rows.push(skippedRow(SECTION, 'revoke-all of a user signed in to 100 clients', admin.unavailable));
      return { rows, raw: { skipped: admin.unavailable } };
    }
    const plainMs: number[] = [];
    const bclMs: number[] = [];
    const allReceivedMs: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      ctx.log(`backchannel: signing two users in to ${CLIENTS} clients each (${rep + 1}/${reps})`);
      const plainBrowser = new BrowserSession();
      const bclBrowser = new BrowserSession();
      for (let i = 0; i < CLIENTS; i++) {
        await signIn(latch.url, plainBrowser, `plain-${i}`, user('plain', rep));
        await signIn(latch.url, bclBrowser, `bcl-${i}`, user('bcl', rep));
      }
      let started = performance.now();
      await admin.revokeAccount(user('plain', rep).username);
      plainMs.push(performance.now() - started);

      for (const r of receivers) r.arrivals.length = 0;
      started = performance.now();
      await admin.revokeAccount(user('bcl', rep).username);
      const returned = performance.now();
      bclMs.push(returned - started);
      const deadline = Date.now() + 30_000;
      while (receivers.some((r) => r.arrivals.length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const missing = receivers.filter((r) => r.arrivals.length === 0).length;
      if (missing) throw new Error(`${missing} of ${CLIENTS} receivers got no logout token within 30 s`);
      allReceivedMs.push(Math.max(...receivers.map((r) => r.arrivals[0]!)) - returned);
    }
    const median = (xs: number[]) => Math.round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! * 10) / 10;
    raw.plainRevokeMs = plainMs;
    raw.backchannelRevokeMs = bclMs;
    raw.allReceivedAfterReturnMs = allReceivedMs;
    const slowdown = ratio(median(bclMs), median(plainMs));
    rows.push({ section: SECTION, name: `revoke-all, user signed in to ${CLIENTS} clients without back-channel URIs`, value: `revoke call ${median(plainMs)} ms (median of ${reps})` });
    rows.push({
      section: SECTION,
      name: `revoke-all, user signed in to ${CLIENTS} clients with back-channel URIs (${CLIENTS} receivers)`,
      value: `revoke call ${median(bclMs)} ms (median of ${reps}); all ${CLIENTS} logout tokens received ${median(allReceivedMs)} ms after the call returned`,
      vs: slowdown === undefined ? undefined : `${slowdown}× the revoke without`,
      target: 'the revoke call itself does not slow down (≤ 2× without back-channel clients)',
      met: slowdown === undefined ? undefined : slowdown <= 2,
    });
    return { rows, raw };
  } finally {
    await latch.close();
    await Promise.all(receivers.map((r) => new Promise<void>((resolve) => (r.server.closeAllConnections(), r.server.close(() => resolve())))));
  }
}
