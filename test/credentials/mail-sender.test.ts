import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminCall, adminToken } from '../support/admin.js';
import { ready, runLatch, type LatchProcess } from '../support/latch-process.js';
import { freePort, startRedis, type TestRedis } from '../support/redis-server.js';
import { testFileConfig } from '../support/test-config.js';

/**
 * LATCH_MAIL_SENDER plugs a mail sender into the real process (dist/src/main.js): here a module
 * that hands each link to an HTTP receiver run by the test, as a mail API would be called.
 */
const dir = mkdtempSync(join(tmpdir(), 'latch-mail-'));
const configFile = join(dir, 'latch.json');
writeFileSync(configFile, JSON.stringify(testFileConfig()));
let redis: TestRedis;
let receiver: Server;
let receiverUrl: string;
const received: Array<Record<string, unknown>> = [];
const running: LatchProcess[] = [];

beforeAll(async () => {
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  redis = await startRedis();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/send`;
}, 120_000);
afterAll(async () => {
  running.forEach((proc) => proc.child.kill('SIGKILL'));
  receiver.close();
  await redis.close();
});

async function start(mailSender: string) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = runLatch({
    PORT: String(port), ISSUER: base, REDIS_URL: redis.url, LATCH_CONFIG: configFile, LATCH_DEV_KEYS_FILE: join(dir, 'keys.json'),
    LATCH_MAIL_SENDER: mailSender, MAIL_RECEIVER: receiverUrl, LOG_LEVEL: 'info',
  });
  running.push(proc);
  return { proc, base };
}

describe('LATCH_MAIL_SENDER', () => {
  it('delivers reset links through the plugged-in module, and the admin caller never sees the link', async () => {
    const module = join(dir, 'sender.mjs');
    writeFileSync(module, `export default async function create() {
  return {
    async send(message) {
      const response = await fetch(process.env.MAIL_RECEIVER, { method: 'POST', body: JSON.stringify(message) });
      return response.status === 202;
    },
  };
}
`);
    const { base } = await start(module);
    expect(await ready(base)).toBe(true);
    const admin = await adminToken(base);
    const { status, json } = await adminCall(base, 'POST', '/admin/accounts/alice/reset-link', admin, { reason: 'forgot it' });
    expect(status).toBe(200);
    expect(json).toEqual({ expires_at: expect.any(Number), delivered: true, audit_id: expect.any(String) });
    expect(received).toEqual([{
      kind: 'reset', sub: 'sub-alice', username: 'alice', email: 'alice@example.test',
      link: expect.stringMatching(new RegExp(`^${base}/account/reset/[A-Za-z0-9_-]{65}$`)), expiresAt: json!.expires_at,
    }]);
    const page = await fetch(received[0]!.link as string);
    expect(page.status).toBe(200);
  }, 60_000);

  it('stops Latch at start-up, naming the variable, when the module exports no sender', async () => {
    const module = join(dir, 'not-a-sender.mjs');
    writeFileSync(module, 'export default { deliver() {} };\n');
    const { proc } = await start(module);
    expect(await proc.exited).toBe(1);
    expect(proc.err()).toBe(`latch: invalid configuration: LATCH_MAIL_SENDER: ${module} must export as default a mail sender (an object with send(message)) or a function returning one\n`);
    const missing = await start(join(dir, 'nowhere.mjs'));
    expect(await missing.proc.exited).toBe(1);
    expect(missing.proc.err()).toMatch(/^latch: invalid configuration: LATCH_MAIL_SENDER: cannot load .*nowhere\.mjs: /);
  }, 60_000);
});
