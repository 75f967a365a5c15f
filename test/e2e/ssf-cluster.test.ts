import { startLatch, type TestLatch } from '../support/latch-server.js';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { createStream, drain, poll, PUSH, pushReceiver, receiverToken, RISC, ssfFileConfig, verifySet } from '../support/ssf.js';

/**
 * Shared Signals on a Redis Cluster: every SSF key is in the `{ssf}` slot, so the fan-out and
 * queue scripts run there as on one server; two instances share streams, queues and wake-ups.
 */
let cluster: TestRedisCluster;
let a: TestLatch;
let b: TestLatch;
let siem: string;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  a = await startLatch(cluster.target, { file: ssfFileConfig({ retryBaseMs: 50, retryMaxMs: 200 }) });
  b = await startLatch(cluster.target, { config: a.config });
  siem = await receiverToken(a.url);
}, 60_000);
afterAll(async () => {
  await a?.close();
  await b?.close();
  await cluster?.close();
});

const events = { events_requested: [`${RISC}account-enabled`] };

it('an event published through one instance is queued and polled through the other', async () => {
  const { stream_id } = await createStream(a.url, siem, events);
  await b.revocations.enableAccount('sub-bob', { actor: 'test', reason: 'on a cluster' });
  const sets = await drain(a.url, siem, stream_id, 'siem');
  expect(sets.map((s) => s.event.reason_admin)).toEqual([{ en: 'on a cluster' }]);
});

it('a long poll on one instance is woken by an event published on the other', async () => {
  const { stream_id } = await createStream(a.url, siem, events);
  const waiting = poll(a.url, siem, stream_id, { returnImmediately: false });
  await new Promise((r) => setTimeout(r, 300));
  const started = Date.now();
  await b.revocations.enableAccount('sub-bob', { actor: 'test', reason: 'wake' });
  expect(Object.keys((await waiting).sets)).toHaveLength(1);
  expect(Date.now() - started).toBeLessThan(5000);
});

it('a push stream is delivered', async () => {
  const rx = await pushReceiver();
  try {
    await createStream(a.url, siem, { ...events, delivery: { method: PUSH, endpoint_url: `${rx.url}/events` } });
    await b.revocations.enableAccount('sub-bob', { actor: 'test', reason: 'pushed on a cluster' });
    const [pushed] = await rx.accepted(1);
    expect((await verifySet(pushed!.body, a.url, 'siem')).event.reason_admin).toEqual({ en: 'pushed on a cluster' });
  } finally {
    await rx.close();
  }
});
