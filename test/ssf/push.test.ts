import { startLatch, type TestLatch } from '../support/latch-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { createStream, deleteStreams, drain, PUSH, pushReceiver, receiverToken, RISC, SSF_EVENT, ssfCall, ssfFileConfig, until, verifySet, type PushReceiver } from '../support/ssf.js';

/**
 * RFC 8935 push delivery to real HTTP receivers: what a push looks like, retries while the
 * receiver fails, nothing lost across a Latch restart, the queue bound, several instances.
 */
let redis: TestRedis;
let latch: TestLatch;
let siem: string;
let rx: PushReceiver;

const FAST = { retryBaseMs: 50, retryMaxMs: 200 };

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url, { file: ssfFileConfig(FAST) });
  siem = await receiverToken(latch.url);
});
beforeEach(async () => {
  rx = await pushReceiver();
});
afterEach(async () => {
  await rx?.close();
  await deleteStreams(latch.url, siem);
});
afterAll(async () => {
  await latch?.close();
  await redis?.close();
});

/** A push stream for account-enabled events (cheap to publish: no sign-in needed). */
const pushStream = (url = rx.url, on: TestLatch = latch) =>
  createStream(on.url, siem, { delivery: { method: PUSH, endpoint_url: `${url}/ssf-events`, authorization_header: 'Bearer rx-secret' }, events_requested: [`${RISC}account-enabled`] });
const publish = (reason: string, on: TestLatch = latch) => on.revocations.enableAccount('sub-bob', { actor: 'test', reason });
const reasonOf = async (body: string) => ((await verifySet(body, latch.url, 'siem')).event.reason_admin as { en: string }).en;
const metric = async (on: TestLatch, name: string) => {
  const text = await (await fetch(`${on.opsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
};

describe('a push', () => {
  it('POSTs the signed SET as application/secevent+jwt with the receiver\'s authorization header', async () => {
    await pushStream();
    await publish('pushed');
    const [pushed] = await rx.accepted(1);
    expect(pushed!.headers['content-type']).toBe('application/secevent+jwt');
    expect(pushed!.headers.authorization).toBe('Bearer rx-secret');
    expect(pushed!.headers.accept).toBe('application/json');
    expect(pushed!.headers['user-agent']).toBe('Latch');
    const set = await verifySet(pushed!.body, latch.url, 'siem');
    expect(set.type).toBe(`${RISC}account-enabled`);
    expect(set.event.reason_admin).toEqual({ en: 'pushed' });
  });

  it('a verification requested on a push stream is pushed behind what was queued before it', async () => {
    const { stream_id } = await pushStream();
    rx.answer.status = 503;
    await publish('first');
    await ssfCall(latch.url, 'POST', '/ssf/verify', siem, { stream_id, state: 'after-first' });
    rx.answer.status = 202;
    const [first, verification] = await rx.accepted(2);
    expect(await reasonOf(first!.body)).toBe('first');
    expect((await verifySet(verification!.body, latch.url, 'siem')).claims.events).toEqual({ [`${SSF_EVENT}verification`]: { state: 'after-first' } });
  });
});

describe('a receiver that fails', () => {
  it('gets every SET, in order, once it answers again; each accepted SET is not sent again', async () => {
    await pushStream();
    const failedBefore = await metric(latch, 'latch_ssf_push_failed_total{reason="http_503"}');
    const retriedBefore = await metric(latch, 'latch_ssf_push_retried_total');
    rx.answer.status = 503;
    for (const reason of ['one', 'two', 'three']) await publish(reason);
    await until(() => rx.received.length >= 3, 10_000, 'three failed attempts');
    rx.answer.status = 202;
    const accepted = await rx.accepted(3);
    expect(await Promise.all(accepted.map((p) => reasonOf(p.body)))).toEqual(['one', 'two', 'three']);
    await new Promise((r) => setTimeout(r, 500));
    const jtis = await Promise.all(accepted.map(async (p) => (await verifySet(p.body, latch.url, 'siem')).claims.jti));
    const failed = rx.received.filter((p) => !accepted.includes(p));
    // Every failed attempt was the first SET (the queue waits behind it), with the same jti.
    for (const p of failed) expect((await verifySet(p.body, latch.url, 'siem')).claims.jti).toBe(jtis[0]);
    expect(rx.received.length).toBe(failed.length + 3);
    expect(await metric(latch, 'latch_ssf_push_failed_total{reason="http_503"}')).toBe(failedBefore + failed.length);
    expect(await metric(latch, 'latch_ssf_push_retried_total')).toBeGreaterThan(retriedBefore);
  });

  it('a receiver that is down (connection refused) and comes back gets every SET', async () => {
    await pushStream();
    await rx.stop();
    for (const reason of ['while', 'it', 'was down']) await publish(reason);
    await new Promise((r) => setTimeout(r, 400));
    await rx.start();
    expect(await Promise.all((await rx.accepted(3)).map((p) => reasonOf(p.body)))).toEqual(['while', 'it', 'was down']);
  });

  it('a SET refused for good (400 invalid_request) is dropped and counted; the next one goes through', async () => {
    await pushStream();
    const before = await metric(latch, 'latch_ssf_rejected_total{method="push"}');
    rx.answer.status = 400;
    rx.answer.body = JSON.stringify({ err: 'invalid_request', description: 'I do not like it' });
    await publish('refused');
    await until(() => rx.received.length === 1, 10_000, 'the refused push');
    rx.answer.status = 202;
    await publish('accepted');
    const [accepted] = await rx.accepted(1);
    expect(await reasonOf(accepted!.body)).toBe('accepted');
    expect(rx.received.length).toBe(2);
    expect(await metric(latch, 'latch_ssf_rejected_total{method="push"}')).toBe(before + 1);
  });
});

describe('durability and scale-out', () => {
  /** A Redis and a Latch of their own: the only instance, stopped and started again. */
  async function alone(file = latch.config.file) {
    const own = await startRedis();
    const first = await startLatch(own.url, { file });
    const token = await receiverToken(first.url);
    return { own, first, token, again: () => startLatch(own.url, { config: first.config }) };
  }

  it('a Latch restart with SETs queued loses none: the next start delivers them', async () => {
    const { own, first, token, again } = await alone();
    let next: TestLatch | undefined;
    try {
      await createStream(first.url, token, { delivery: { method: PUSH, endpoint_url: `${rx.url}/ssf-events` }, events_requested: [`${RISC}account-enabled`] });
      await rx.stop();
      for (const reason of ['before', 'the', 'restart']) await publish(reason, first);
      await first.close();
      await rx.start();
      next = await again();
      // At least once: a SET whose push was under way when Latch stopped may come twice, with its jti.
      const seen = new Map<string, string>();
      await until(async () => {
        for (const p of rx.received.slice()) {
          const set = await verifySet(p.body, first.url, 'siem', next!.url);
          seen.set(set.claims.jti!, (set.event.reason_admin as { en: string }).en);
        }
        return seen.size >= 3;
      }, 10_000, 'three distinct SETs');
      expect([...seen.values()]).toEqual(['before', 'the', 'restart']);
    } finally {
      await next?.close();
      await first.close().catch(() => {});
      await own.close();
    }
  });

  it('a restart loses nothing queued on a poll stream either', async () => {
    const { own, first, token, again } = await alone();
    let next: TestLatch | undefined;
    try {
      const { stream_id } = await createStream(first.url, token, { events_requested: [`${RISC}account-enabled`] });
      await publish('queued', first);
      await first.close();
      next = await again();
      const sets = await drain(next.url, token, stream_id, 'siem', first.url);
      expect(sets.map((s) => s.event.reason_admin)).toEqual([{ en: 'queued' }]);
    } finally {
      await next?.close();
      await own.close();
    }
  });

  it('with two instances delivering, each SET reaches the receiver once and in order', async () => {
    const second = await startLatch(redis.url, { config: latch.config });
    try {
      await pushStream();
      const reasons = Array.from({ length: 12 }, (_, i) => `event ${i}`);
      for (const [i, reason] of reasons.entries()) await publish(reason, i % 2 ? second : latch);
      const accepted = await rx.accepted(12);
      await new Promise((r) => setTimeout(r, 500));
      expect(rx.received.length).toBe(12);
      expect(await Promise.all(accepted.map((p) => reasonOf(p.body)))).toEqual(reasons);
    } finally {
      await second.close();
    }
  });

  it('refuses to push to a private address when outbound.allowPrivateNetworks is off (SSRF), and counts it', async () => {
    const { own, first, token } = await alone({ ...latch.config.file, outbound: { ...latch.config.file.outbound, allowPrivateNetworks: false } });
    try {
      await createStream(first.url, token, { delivery: { method: PUSH, endpoint_url: `${rx.url}/ssf-events` }, events_requested: [`${RISC}account-enabled`] });
      await publish('refused address', first);
      await until(async () => (await metric(first, 'latch_ssf_push_failed_total{reason="ERR_OUTBOUND_REFUSED_ADDRESS"}')) >= 1, 10_000, 'a refused push');
      expect(rx.received).toEqual([]);
    } finally {
      await first.close();
      await own.close();
    }
  });
});

describe('the queue bound', () => {
  it('a receiver that falls maxQueue behind: the stream is disabled and says why, nothing queued is lost, it gets a stream-updated notice last', async () => {
    // A Redis of its own: no other test's stream may fall behind this bound too.
    const own = await startRedis();
    const bounded = await startLatch(own.url, { file: { ...latch.config.file, ssf: { ...latch.config.file.ssf, maxQueue: 3 } } });
    const token = await receiverToken(bounded.url);
    try {
      const { stream_id } = await createStream(bounded.url, token, { delivery: { method: PUSH, endpoint_url: `${rx.url}/ssf-events` }, events_requested: [`${RISC}account-enabled`] });
      await rx.stop();
      for (const reason of ['1', '2', '3', '4', '5']) await publish(reason, bounded);
      const reason = 'the receiver fell 3 events behind: Latch queues no more events on this stream until it is enabled again';
      const status = await ssfCall(bounded.url, 'GET', `/ssf/status?stream_id=${stream_id}`, token);
      expect(status.json).toEqual({ stream_id, status: 'disabled', reason });
      expect(await metric(bounded, 'latch_ssf_events_lost_total')).toBe(2);
      expect(await metric(bounded, 'latch_ssf_streams_lagging')).toBe(1);
      expect(await metric(bounded, 'latch_ssf_queue_overflows_total')).toBe(1);
      await rx.start();
      const pushed = await rx.accepted(4);
      const sets = await Promise.all(pushed.map((p) => verifySet(p.body, bounded.url, 'siem')));
      expect(sets.slice(0, 3).map((s) => s.event.reason_admin)).toEqual([{ en: '1' }, { en: '2' }, { en: '3' }]);
      expect(sets[3]!.claims.sub_id).toEqual({ format: 'opaque', id: stream_id });
      expect(sets[3]!.claims.events).toEqual({ [`${SSF_EVENT}stream-updated`]: { status: 'disabled', reason } });
      // Enabled again by its receiver, the stream takes events again.
      await ssfCall(bounded.url, 'POST', '/ssf/status', token, { stream_id, status: 'enabled' });
      await publish('6', bounded);
      const [, , , , sixth] = await rx.accepted(5);
      expect((await verifySet(sixth!.body, bounded.url, 'siem')).event.reason_admin).toEqual({ en: '6' });
    } finally {
      await bounded.close();
      await own.close();
    }
  });
});

describe('verification on a full queue', () => {
  it('is queued past the bound for a while (it answers the receiver), then refused with 429', async () => {
    const own = await startRedis();
    const bounded = await startLatch(own.url, { file: { ...latch.config.file, ssf: { ...latch.config.file.ssf, maxQueue: 2 } } });
    try {
      const token = await receiverToken(bounded.url);
      const { stream_id } = await createStream(bounded.url, token, { events_requested: [`${RISC}account-enabled`] });
      for (const reason of ['1', '2']) await publish(reason, bounded);
      const statuses: number[] = [];
      for (let i = 0; i < 17; i++) statuses.push((await ssfCall(bounded.url, 'POST', '/ssf/verify', token, { stream_id })).status);
      expect(statuses).toEqual([...Array(16).fill(204), 429]);
      const refused = await ssfCall(bounded.url, 'POST', '/ssf/verify', token, { stream_id });
      expect(refused.json).toEqual({ error: 'temporarily_unavailable', error_description: "the stream's queue is full: fetch or acknowledge its events before asking for a verification" });
    } finally {
      await bounded.close();
      await own.close();
    }
  });
});

describe('metrics', () => {
  it('counts SETs delivered by method and shows the queue depth on the operations listener', async () => {
    const before = await metric(latch, 'latch_ssf_delivered_total{method="push"}');
    await pushStream();
    rx.answer.status = 503;
    await publish('counted');
    await until(async () => (await metric(latch, 'latch_ssf_queue_depth')) >= 1, 10_000, 'a queued SET');
    rx.answer.status = 202;
    await rx.accepted(1);
    await until(async () => (await metric(latch, 'latch_ssf_delivered_total{method="push"}')) === before + 1, 10_000, 'the delivery counted');
    const text = await (await fetch(`${latch.opsUrl}/metrics`)).text();
    for (const name of ['latch_ssf_events_enqueued_total{event="account-enabled"}', 'latch_ssf_queue_depth_max', 'latch_ssf_queue_overflows_total']) expect(text).toContain(name);
  });
});
