import { execFileSync } from 'node:child_process';
import { runLatchCli } from '../support/latch-cli.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

/** The account commands of the real `latch` command (bin/latch.js → compiled CLI), as their own processes. */
let redis: TestRedis;
let latch: TestLatch;

const latchCli = (args: string[], stdin = '') => runLatchCli(latch.url, args, { stdin });

const introspect = async (token: string) => (await postForm(`${latch.url}/introspect`, { token }, ['api-a', SECRETS.apiA])).json!;
const signIn = async (username: string, password: string) => (await logIn(latch.url, await webClient(latch.url), { username, password })).tokens;

beforeAll(async () => {
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  redis = await startRedis();
  latch = await startLatch(redis.url);
}, 120_000);
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('latch admin account commands (CLI)', () => {
  it('creates an account with a password from standard input, lists and searches it, updates its profile', async () => {
    const created = await latchCli(['admin', 'create-account', 'carol', '--email', 'carol@example.test', '--role', 'viewer', '--role', 'editor', '--password-stdin', '--reason', 'new hire'], 'plum tree at dusk\n');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^created carol \(sub [A-Za-z0-9_-]{22}; audit \d+-\d+\)\n$/);
    await expect(signIn('carol', 'plum tree at dusk')).resolves.toBeDefined();

    const list = await latchCli(['admin', 'accounts', '--prefix', 'car']);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^USERNAME\s+SUB\s+EMAIL\s+NAME\s+ROLES\s+DISABLED\s+PASSWORD\s+MUST CHANGE$/);
    expect(list.stdout.split('\n')[1]).toMatch(/^carol\s+\S+\s+carol@example\.test\s+-\s+viewer editor\s+false\s+set\s+false$/);
    const byEmail = JSON.parse((await latchCli(['admin', 'accounts', '--email', 'carol@example.test', '--json'])).stdout);
    expect(byEmail).toEqual([expect.objectContaining({ username: 'carol', roles: ['viewer', 'editor'] })]);

    const updated = await latchCli(['admin', 'update-account', 'carol', '--name', 'Carol C', '--clear-email', '--reason', 'asked']);
    expect(updated.code).toBe(0);
    expect(JSON.parse((await latchCli(['admin', 'account', 'carol', '--json'])).stdout)).toMatchObject({ name: 'Carol C' });
    expect(JSON.parse((await latchCli(['admin', 'account', 'carol', '--json'])).stdout)).not.toHaveProperty('email');
  });

  it('pages with --limit and follows every page with --all', async () => {
    for (const n of ['pg-1', 'pg-2', 'pg-3']) expect((await latchCli(['admin', 'create-account', n, '--reason', 'x'])).code).toBe(0);
    const first = await latchCli(['admin', 'accounts', '--prefix', 'pg-', '--limit', '2']);
    expect(first.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['pg-1', 'pg-2']);
    expect(first.stderr).toMatch(/^more: --cursor [A-Za-z0-9_-]+ \(or --all\)\n$/);
    const all = JSON.parse((await latchCli(['admin', 'accounts', '--prefix', 'pg-', '--limit', '2', '--all', '--json'])).stdout) as Array<{ username: string }>;
    expect(all.map((a) => a.username)).toEqual(['pg-1', 'pg-2', 'pg-3']);
  });

  it('creates an account without a password and prints its set-up link', async () => {
    const run = await latchCli(['admin', 'create-account', 'dave', '--reason', 'contractor']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`\\nset-up link \\(one use, until \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\): ${latch.url}/account/reset/[A-Za-z0-9_-]{65}\\n$`));
  });

  it('sets a password from standard input (revoking every token) and prints a reset link', async () => {
    const tokens = await signIn('alice', 'alice-password-1');
    const set = await latchCli(['admin', 'set-password', 'alice', '--reason', 'helpdesk', '--require-change'], 'temporary secret 1\n');
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/^password of alice set: \d+ token\(s\) under \d+ grant\(s\), \d+ session\(s\) dead now \(audit \d+-\d+\)\n$/);
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
    expect(JSON.parse((await latchCli(['admin', 'account', 'alice', '--json'])).stdout)).toMatchObject({ password_change_required: true });
    const cancel = await latchCli(['admin', 'require-password-change', 'alice', '--cancel', '--reason', 'done by phone']);
    expect(cancel.stdout).toMatch(/^alice no longer has to change the password \(audit \d+-\d+\)\n$/);

    const link = await latchCli(['admin', 'reset-link', 'alice', '--reason', 'forgot it', '--ttl', '900']);
    expect(link.code).toBe(0);
    expect(link.stdout).toMatch(/^reset link for alice \(one use, until .+Z\): http:\/\/127\.0\.0\.1:\d+\/account\/reset\/[A-Za-z0-9_-]{65}\n$/);

    const weak = await latchCli(['admin', 'set-password', 'alice', '--reason', 'x'], 'password\n');
    expect(weak.code).toBe(1);
    expect(weak.stderr).toBe('latch: PUT /admin/accounts/alice/password failed (400): password: is one of the most common passwords, the first an attacker tries: choose another\n');
    const none = await latchCli(['admin', 'set-password', 'alice', '--reason', 'x']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^latch: the password is read from standard input/);
  });

  it('imports a JSON lines file in batches, reports skipped and failed lines by number, and exits 1 when a line failed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latch-import-'));
    const file = join(dir, 'accounts.jsonl');
    const lines = [
      ...Array.from({ length: 1203 }, (_, i) => JSON.stringify({ username: `bulk-${String(i).padStart(4, '0')}` })),
      JSON.stringify({ username: 'hashed', password_hash: bcrypt.hashSync('hashed password 1', 4) }),
      JSON.stringify({ username: 'alice' }),
      '{"username": 1}',
    ];
    writeFileSync(file, `${lines.join('\n')}\n`);
    const run = await latchCli(['admin', 'import', file, '--reason', 'migration']);
    expect(run.code).toBe(1);
    expect(run.stdout.split('\n')[0]).toBe('created 1204, skipped 1, failed 1');
    expect(run.stdout).toMatch(/\n1205\s+alice\s+skipped\s+username: "alice" is taken by another account\n/);
    expect(run.stdout).toMatch(/\n1206\s+-\s+failed\s+username: Invalid input: expected string, received number\n/);
    expect(run.stderr).toContain('import: 1206/1206 lines');
    expect(run.stderr).toMatch(/latch: 1 line\(s\) failed\n$/);
    await expect(signIn('hashed', 'hashed password 1')).resolves.toBeDefined();
  });

  it('with --existing fail, checks the whole file first and writes nothing when a line would fail', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latch-import-'));
    const file = join(dir, 'accounts.jsonl');
    writeFileSync(file, `${JSON.stringify({ username: 'first-of-two' })}\n${JSON.stringify({ username: 'bob' })}\n`);
    const run = await latchCli(['admin', 'import', file, '--existing', 'fail', '--reason', 'strict']);
    expect(run.code).toBe(1);
    expect(run.stdout.split('\n')[0]).toBe('nothing imported (--existing fail), skipped 0, failed 1');
    expect(await latch.accounts.findByUsername('first-of-two')).toBeUndefined();
    const dry = await latchCli(['admin', 'import', file, '--dry-run', '--reason', 'check']);
    expect(dry.stdout.split('\n')[0]).toBe('dry run: 1 valid, skipped 1, failed 0');
  });

  it('deletes an account, waiting for its cleanup', async () => {
    const run = await latchCli(['admin', 'delete-account', 'dave', '--reason', 'contract ended']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^deleted dave: \d+ token\(s\)/);
    expect((await latchCli(['admin', 'account', 'dave'])).code).toBe(1);
  });
});
