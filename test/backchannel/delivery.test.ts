import { adminCall, adminToken } from '../support/admin.js';
import { backchannelConfig, decoded, eventually, passwordOf, type User } from '../support/backchannel.js';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type StartOptions, type TestLatch } from '../support/latch-server.js';
import { startLogoutReceiver, type LogoutReceiver } from '../support/logout-receiver.js';
import { clientFor, logIn } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

/**
 * Durable, at-least-once delivery of logout tokens: queued in Redis in the request, sent in the
 * background with a timeout, retried with backoff, given up after a bound (audited), surviving a
 * Latch restart and a process that dies holding deliveries, shared by instances, never blocking
 * the request that ended the session. Each test has its own Redis, receiver and Latch(es).
 */
let redis: TestRedis;
let receiver: LogoutReceiver;
const latches: TestLatch[] = [];

beforeEach(async () => {
  redis = await startRedis();
  receiver = await startLogoutReceiver();
});
afterEach(async () => {
  await Promise.all(latches.splice(0).map((l) => l.close()));
  await receiver.close();
  await redis.close();
});

async function latchWith(overrides: Record<string, unknown> = {}, options: StartOptions = {}): Promise<TestLatch> {
  const latch = await startLatch(redis.url, { file: backchannelConfig(receiver.url, overrides), ...options });
  latches.push(latch);
  return latch;
}

/** `user` signs in to `web` `times` times, each in its own browser: that many RP sessions. */
async function sessions(latch: TestLatch, user: User, times: number): Promise<string[]> {
  const sids: string[] = [];
  for (let i = 0; i < times; i++) {
    const { tokens } = await logIn(latch.url, await clientFor(latch.url, 'web', SECRETS.web), { username: user, password: passwordOf(user), browser: new BrowserSession() });
    sids.push(tokens.claims()!.sid as string);
  }
  return sids;
}

async function revokeUser(latch: TestLatch, user: User): Promise<void> {
  const { status } = await adminCall(latch.url, 'POST', `/admin/accounts/${user}/revoke`, await adminToken(latch.url), { reason: 'test: delivery' });
  expect(status).toBe(200);
}

/** Deliveries not yet settled, straight from Redis. */
/**
 * Deliveries not settled, read in one MULTI: read one after the other, a delivery promoted from the
 * retry set to the Stream between the two reads was counted in neither (a false 0).
 */
const pending = async () => {
  const replies = (await redis.client.multi().xlen('latch:{bcl}:queue').zcard('latch:{bcl}:retry').exec()) ?? [];
  return replies.reduce((sum, [err, n]) => (err ? Number.NaN : sum + Number(n)), 0);
};

/** A Prometheus sample of `latch`'s /metrics (on its operations listener). */
async function sample(latch: TestLatch, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${latch.opsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

async function auditOf(latch: TestLatch, action: string): Promise<Array<Record<string, unknown>>> {
  const { json } = await adminCall(latch.url, 'GET', '/admin/audit?limit=1000', await adminToken(latch.url));
  return (json!.entries as Array<Record<string, unknown>>).filter((e) => e.action === action);
}

describe('back-channel logout delivery', () => {
  it('a receiver that is down, then comes back, gets every token: retried with backoff, each jti delivered once', async () => {
    const latch = await latchWith();
    const sids = await sessions(latch, 'alice', 3);
    await receiver.down();
    await revokeUser(latch, 'alice');
    await eventually(async () => ((await sample(latch, 'latch_backchannel_logout_retried_total')) ?? 0) >= 6);
    expect(await sample(latch, 'latch_backchannel_logout_failed_total{error="ERR_OUTBOUND_CONNECTION"}')).toBeGreaterThanOrEqual(6);
    expect(await sample(latch, 'latch_backchannel_logout_sent_total')).toBe(0);
    expect(await sample(latch, 'latch_backchannel_logout_queue_depth{state="retrying"}')).toBeGreaterThan(0);

    await receiver.up();
    await receiver.waitFor(3);
    await eventually(async () => (await pending()) === 0);
    await new Promise((r) => setTimeout(r, 300));
    const logouts = await decoded(latch, receiver.received);
    expect(logouts.map((l) => l.sid).sort()).toEqual([...sids].sort());
    expect(new Set(logouts.map((l) => l.jti)).size).toBe(3);
    expect(await sample(latch, 'latch_backchannel_logout_sent_total')).toBe(3);
    expect(await sample(latch, 'latch_backchannel_logout_queued_total')).toBe(3);
    expect(await sample(latch, 'latch_backchannel_logout_queue_depth{state="queued"}')).toBe(0);
    expect(await sample(latch, 'latch_backchannel_logout_queue_depth{state="retrying"}')).toBe(0);
    const sent = await auditOf(latch, 'backchannel-logout');
    expect(sent).toHaveLength(3);
    for (const entry of sent) expect((entry.detail as { attempts: number }).attempts).toBeGreaterThan(1);
  });

  it('a receiver answering 5xx is retried until it answers 200', async () => {
    const latch = await latchWith();
    await sessions(latch, 'alice', 1);
    receiver.status = 503;
    await revokeUser(latch, 'alice');
    await receiver.waitFor(3);
    receiver.status = 200;
    await eventually(async () => (await pending()) === 0);
    const jtis = (await decoded(latch, receiver.received)).map((l) => l.jti);
    // One delivery, several attempts: every attempt carries the delivery's jti (a receiver dedupes on it).
    expect(new Set(jtis).size).toBe(1);
    expect(await sample(latch, 'latch_backchannel_logout_failed_total{error="status_5xx"}')).toBe(jtis.length - 1);
    expect(await sample(latch, 'latch_backchannel_logout_sent_total')).toBe(1);
  });

  it('gives up after maxAttempts, records it in the audit log and the metrics, and leaves nothing queued', async () => {
    const latch = await latchWith({ backchannelLogout: { maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 100, pollIntervalMs: 50, visibilityTimeoutMs: 1500 } });
    await sessions(latch, 'alice', 1);
    receiver.status = 400;
    await revokeUser(latch, 'alice');
    await eventually(async () => (await auditOf(latch, 'backchannel-logout-given-up')).length === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received).toHaveLength(3);
    expect(await pending()).toBe(0);
    const [entry] = await auditOf(latch, 'backchannel-logout-given-up');
    expect(entry).toMatchObject({
      actor: 'latch',
      target: 'client:web',
      reason: 'test: delivery',
      detail: { sub: 'sub-alice', attempts: 3, error: 'status_4xx', status: 400, receiver: receiver.url, cause: { actor: 'security-admin' } },
    });
    expect(await sample(latch, 'latch_backchannel_logout_given_up_total')).toBe(1);
    expect(await sample(latch, 'latch_backchannel_logout_sent_total')).toBe(0);
  });

  it('a Latch restart with tokens queued loses none: the next Latch delivers them', async () => {
    const first = await latchWith();
    const sids = await sessions(first, 'alice', 2);
    await receiver.down();
    await revokeUser(first, 'alice');
    await eventually(async () => (await redis.client.zcard('latch:{bcl}:retry')) === 2);
    await first.close();
    latches.splice(latches.indexOf(first), 1);

    await receiver.up();
    const second = await latchWith({}, { config: first.config });
    await receiver.waitFor(2);
    expect((await decoded(second, receiver.received)).map((l) => l.sid).sort()).toEqual([...sids].sort());
    await eventually(async () => (await pending()) === 0);
  });

  it('deliveries held by a process that died mid-send are taken over by another after the visibility timeout', async () => {
    const first = await latchWith();
    const sids = await sessions(first, 'alice', 2);
    receiver.status = 0; // accepts, never answers: the first Latch's attempts hang
    await revokeUser(first, 'alice');
    await receiver.waitFor(2);
    const second = await latchWith({}, { config: first.config });
    // The first one dies with both deliveries in flight: they stay in its consumer's pending list.
    first.redis.disconnect();
    receiver.status = 200;
    await receiver.waitFor(4, 15_000);
    const retaken = await decoded(second, receiver.received.slice(2));
    expect(retaken.map((l) => l.sid).sort()).toEqual([...sids].sort());
    // The same deliveries: the jtis of the attempts that hung.
    expect(retaken.map((l) => l.jti).sort()).toEqual((await decoded(second, receiver.received.slice(0, 2))).map((l) => l.jti).sort());
    await eventually(async () => (await pending()) === 0);
  });

  it('two instances share the queue: every token is delivered exactly once', async () => {
    const first = await latchWith();
    const second = await latchWith({}, { config: first.config });
    const sids = await sessions(first, 'alice', 4);
    sids.push(...(await sessions(first, 'carol', 4)));
    await Promise.all([revokeUser(first, 'alice'), revokeUser(second, 'carol')]);
    await receiver.waitFor(8);
    await eventually(async () => (await pending()) === 0);
    await new Promise((r) => setTimeout(r, 500));
    const logouts = await decoded(first, receiver.received);
    expect(logouts).toHaveLength(8);
    expect(logouts.map((l) => l.sid).sort()).toEqual(sids.sort());
  });

  it('never blocks the request that ended the session: a receiver that hangs does not slow a revocation or a logout', async () => {
    const latch = await latchWith({ outbound: { allowPrivateNetworks: false, timeoutMs: 3000 }, backchannelLogout: { pollIntervalMs: 50, visibilityTimeoutMs: 5000 } });
    await sessions(latch, 'alice', 1);
    const { browser } = await logIn(latch.url, await clientFor(latch.url, 'web', SECRETS.web), { username: 'carol', password: passwordOf('carol') });
    receiver.status = 0;

    let started = Date.now();
    await revokeUser(latch, 'alice');
    expect(Date.now() - started).toBeLessThan(1500);

    const page = await browser.follow(`${latch.url}/session/end?client_id=web`, latch.url);
    started = Date.now();
    expect((await browser.submit(page.url, page.html!, '/session/end/confirm', { logout: 'yes' })).status).toBe(303);
    expect(Date.now() - started).toBeLessThan(1500);
    await receiver.waitFor(2);
  });

  it('audits each logout sent, without the token or the sid', async () => {
    const latch = await latchWith();
    const [sid] = await sessions(latch, 'alice', 1);
    await revokeUser(latch, 'alice');
    await receiver.waitFor(1);
    await eventually(async () => (await auditOf(latch, 'backchannel-logout')).length === 1);
    const [entry] = await auditOf(latch, 'backchannel-logout');
    const [logout] = await decoded(latch, receiver.received);
    expect(entry).toEqual({
      id: expect.any(String),
      actor: 'latch',
      action: 'backchannel-logout',
      target: 'client:web',
      reason: 'test: delivery',
      count: 0,
      at: expect.any(Number),
      detail: { jti: logout!.jti, sub: 'sub-alice', attempts: 1, status: 200, receiver: receiver.url, cause: { actor: 'security-admin', at: expect.any(Number) } },
    });
    expect(JSON.stringify(entry)).not.toContain(sid!);
    expect(JSON.stringify(entry)).not.toContain(receiver.received[0]!.token.split('.')[1]!);
  });
});
