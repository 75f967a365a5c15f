import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ready, runLatch } from '../support/latch-process.js';
import { postForm } from '../support/oauth.js';
import { freePort, startRedis, type TestRedis } from '../support/redis-server.js';
import { createStream, RISC, SSF_API } from '../support/ssf.js';

/**
 * `npm start` with the demo config (its Shared Signals API on): a SIGTERM while a receiver's long
 * poll waits answers that poll at once (empty) and stops cleanly, instead of holding the shutdown
 * until the poll's wait bound.
 */
let redis: TestRedis;
const dir = mkdtempSync(join(tmpdir(), 'latch-ssf-shutdown-'));

beforeAll(async () => {
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  redis = await startRedis();
}, 120_000);
afterAll(() => redis?.close());

it('a SIGTERM answers a waiting long poll with no SETs and exits 0 promptly', async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = runLatch({ PORT: String(port), REDIS_URL: redis.url, ISSUER: base, LATCH_DEV_KEYS_FILE: join(dir, 'keys.json'), LOG_LEVEL: 'info' });
  try {
    expect(await ready(base)).toBe(true);
    const { json } = await postForm(`${base}/token`, { grant_type: 'client_credentials', resource: SSF_API, scope: 'ssf.manage' }, ['orders-api', 'orders-api-secret-change-me-0123456789abc']);
    const token = json!.access_token as string;
    const { stream_id } = await createStream(base, token, { events_requested: [`${RISC}account-disabled`] });
    const polling = fetch(`${base}/ssf/poll/${stream_id}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ returnImmediately: false }),
    }).then(async (r) => [r.status, await r.json()] as const);
    await new Promise((r) => setTimeout(r, 500));
    const stopped = Date.now();
    proc.child.kill('SIGTERM');
    expect(await polling).toEqual([200, { sets: {} }]);
    expect(await proc.exited).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(5000);
  } finally {
    proc.child.kill('SIGKILL');
  }
}, 60_000);
