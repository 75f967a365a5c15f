import { execFileSync, spawn } from 'node:child_process';
import { runLatchCli } from '../support/latch-cli.js';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { BrowserSession } from '../support/browser-session.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { storedPayload } from '../support/records.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;

/** Runs the real `latch` command (bin/latch.js → compiled CLI) as its own process. */
const latchCli = (args: string[], env: Record<string, string> = {}, stdin = '') => runLatchCli(latch.url, args, { env, stdin });

const active = async (token: string) => (await postForm(`${latch.url}/introspect`, { token }, ['api-a', SECRETS.apiA])).json!.active;

beforeAll(async () => {
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  redis = await startRedis();
  latch = await startLatch(redis.url);
}, 120_000);
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('latch admin (CLI)', () => {
  it('lists sessions as a table and as JSON', async () => {
    await logIn(latch.url, await webClient(latch.url));
    const human = await latchCli(['admin', 'sessions', 'alice']);
    expect(human.code).toBe(0);
    expect(human.stdout.split('\n')[0]).toMatch(/^ID\s+CLIENT\s+CREATED\s+LAST USED\s+IP\s+PLACE\s+USER AGENT$/);
    expect(human.stdout).toContain('Web App');
    const json = await latchCli(['admin', 'sessions', 'alice', '--json']);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ client_id: 'web', client_name: 'Web App', ip: '127.0.0.1' })]);
  });

  it('revokes a user with a reason, waits for the cleanup, and the audit log shows it', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    const run = await latchCli(['admin', 'revoke-user', 'alice', '--reason', 'stolen phone']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^revoked alice: \d+ token\(s\) under \d+ grant\(s\), \d+ session\(s\) dead now \(audit \d+-\d+\)\n$/);
    expect(run.stderr).toMatch(/cleanup: \d+\/\d+/);
    expect(await active(tokens.access_token)).toBe(false);
    const audit = await latchCli(['admin', 'audit', '--json']);
    const entries = audit.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(entries.at(-1)).toMatchObject({ actor: 'security-admin', action: 'revoke-user', target: 'account:alice', reason: 'stolen phone' });
  });

  it('revokes a token read from standard input, and disables and enables an account', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    const run = await latchCli(['admin', 'revoke-token', '--reason', 'pasted in chat'], {}, `${tokens.access_token}\n`);
    expect(run.code).toBe(0);
    expect(await active(tokens.access_token)).toBe(false);
    expect((await latchCli(['admin', 'disable', 'bob', '--reason', 'left the company'])).code).toBe(0);
    expect(JSON.parse((await latchCli(['admin', 'account', 'bob', '--json'])).stdout)).toMatchObject({ disabled: true });
    expect((await latchCli(['admin', 'enable', 'bob', '--reason', 'came back'])).code).toBe(0);
  });

  it('changes roles and lists logins with their places', async () => {
    const roles = await latchCli(['admin', 'set-roles', 'alice', 'editor', '--reason', 'promotion']);
    expect(roles.code).toBe(0);
    expect(roles.stdout).toMatch(/^roles of alice: viewer → editor \(audit \d+-\d+\)\n$/);
    await latchCli(['admin', 'set-roles', 'alice', 'viewer', '--reason', 'back']);
    await logIn(latch.url, await webClient(latch.url), { loginHeaders: { 'cf-iplatitude': '51.5074', 'cf-iplongitude': '-0.1278', 'cf-ipcity': 'London', 'cf-ipcountry': 'GB' } });
    const logins = await latchCli(['admin', 'logins', 'alice']);
    expect(logins.code).toBe(0);
    expect(logins.stdout.split('\n')[0]).toMatch(/^TIME\s+IP\s+PLACE\s+LAT\s+LON\s+SOURCE\s+OUTCOME$/);
    expect(logins.stdout.split('\n')[1]).toMatch(/127\.0\.0\.1\s+London, GB\s+51\.5074\s+-0\.1278\s+edge\s+accepted/);
  });

  it('follows the audit log as new entries arrive', async () => {
    const child = spawn(process.execPath, ['bin/latch.js', 'admin', 'audit', '--follow', '--json'], {
      env: { PATH: process.env.PATH!, LATCH_URL: latch.url, LATCH_ADMIN_CLIENT_ID: 'auditor', LATCH_ADMIN_CLIENT_SECRET: SECRETS.auditor },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await new Promise((r) => setTimeout(r, 1500));
    await latchCli(['admin', 'revoke-client', 'web', '--user', 'alice', '--reason', 'followed']);
    for (let i = 0; i < 50 && !out.includes('"followed"'); i++) await new Promise((r) => setTimeout(r, 100));
    child.kill();
    expect(out).toContain('"reason":"followed"');
  });

  it('escapes control characters in table cells: a newline in an audit reason forges no row', async () => {
    const forged = 'phished\n2030-01-01 00:00:00  security-admin  enable-account  account:mallory  0  approved by CISO';
    expect((await latchCli(['admin', 'revoke-user', 'bob', '--reason', forged])).code).toBe(0);
    const audit = await latchCli(['admin', 'audit']);
    expect(audit.code).toBe(0);
    const lines = audit.stdout.trimEnd().split('\n');
    const entries = (await latchCli(['admin', 'audit', '--json'])).stdout.trim().split('\n');
    // One header line and one line per entry: nothing else.
    expect(lines).toHaveLength(entries.length + 1);
    expect(lines.filter((l) => l.startsWith('2030-01-01'))).toEqual([]);
    expect(lines.at(-1)).toContain('phished\\n2030-01-01 00:00:00  security-admin');
    // --json keeps the value exactly (JSON escapes the newline itself).
    expect(JSON.parse(entries.at(-1)!)).toMatchObject({ action: 'revoke-user', reason: forged });
  });

  it('escapes C1 controls (U+009B, a terminal control sequence introducer) from a User-Agent in tables and in --json output', async () => {
    class Agent extends BrowserSession {
      override request(url: string, init: RequestInit = {}): Promise<Response> {
        const headers = new Headers(init.headers);
        headers.set('user-agent', 'Mozilla/5.0 \u009b2J\u009b31mEVIL');
        return super.request(url, { ...init, headers });
      }
    }
    await logIn(latch.url, await webClient(latch.url), { browser: new Agent() });
    const human = await latchCli(['admin', 'sessions', 'alice']);
    expect(human.code).toBe(0);
    // Any control character but the line ends of the table.
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    const control = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
    expect(human.stdout).not.toMatch(control);
    expect(human.stdout).toContain('Mozilla/5.0 \\x9b2J\\x9b31mEVIL');
    const json = await latchCli(['admin', 'sessions', 'alice', '--json']);
    expect(json.stdout).not.toMatch(control);
    // Still JSON, and still the value Latch recorded.
    expect((JSON.parse(json.stdout) as Array<{ user_agent?: string }>).map((s) => s.user_agent)).toContain('Mozilla/5.0 \u009b2J\u009b31mEVIL');
  });

  it('exits non-zero with a clear message on failure', async () => {
    const unknown = await latchCli(['admin', 'revoke-user', 'nobody', '--reason', 'x']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('latch: POST /admin/accounts/nobody/revoke failed (404): no account with username "nobody"\n');

    const noReason = await latchCli(['admin', 'revoke-user', 'alice']);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/^latch: missing --reason/);

    const readOnly = await latchCli(['admin', 'revoke-user', 'alice', '--reason', 'x'], { LATCH_ADMIN_CLIENT_ID: 'auditor', LATCH_ADMIN_CLIENT_SECRET: SECRETS.auditor });
    expect(readOnly.code).toBe(1);
    expect(readOnly.stderr).toMatch(/failed \(403\): this call needs the admin:write scope/);

    const badSecret = await latchCli(['admin', 'sessions', 'alice'], { LATCH_ADMIN_CLIENT_SECRET: 'wrong' });
    expect(badSecret.code).toBe(1);
    expect(badSecret.stderr).toMatch(/cannot get an admin token for client "security-admin": invalid_client/);

    const down = await latchCli(['admin', 'sessions', 'alice'], { LATCH_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/^latch: cannot reach Latch at http:\/\/127\.0\.0\.1:9/);

    const usage = await latchCli(['admin', 'frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('unknown command "admin frobnicate"');
  });
});

describe('latch admin with DPoP (LATCH_DPOP=1 or --dpop)', () => {
  const home = mkdtempSync(join(tmpdir(), 'latch-cli-home-'));

  /** The thumbprints of the keys the admin client's live tokens are bound to (its ClientCredentials records). */
  async function boundKeys(server: TestLatch): Promise<string[]> {
    const records = await redis.client.zrange(server.store.keys.clientTokens('security-admin'), '0', '-1');
    const payloads = await Promise.all(records.map((key) => storedPayload(redis.client, key).catch(() => ({}) as Record<string, unknown>)));
    return payloads.flatMap((p) => (typeof p.jkt === 'string' ? [p.jkt] : []));
  }

  const thumbprintOf = async (file: string) => {
    const { d: _private, ...publicJwk } = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    return calculateJwkThumbprint(publicJwk);
  };

  it('generates a key per profile (0600 in a 0700 directory), binds its admin token to it, proves it on every call, and keeps the key', async () => {
    const env = { LATCH_DPOP: '1', XDG_CONFIG_HOME: home };
    const run = await latchCli(['admin', 'sessions', 'alice', '--json'], env);
    expect([run.code, run.stderr]).toEqual([0, '']);
    const dir = join(home, 'latch', 'dpop');
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const file = join(dir, files[0]!);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const jkt = await thumbprintOf(file);
    expect(await boundKeys(latch)).toContain(jkt);
    // A write, a second run and --dpop: the same key, and nothing printed about it.
    const write = await latchCli(['admin', 'revoke-user', 'bob', '--reason', 'dpop', '--no-wait', '--dpop'], { XDG_CONFIG_HOME: home });
    expect(write.code).toBe(0);
    expect(readdirSync(dir)).toEqual(files);
    expect(write.stdout + write.stderr).not.toContain(readFileSync(file, 'utf8').trim());
    // Another client is another profile, with its own key.
    expect((await latchCli(['admin', 'account', 'alice'], { ...env, LATCH_ADMIN_CLIENT_ID: 'auditor', LATCH_ADMIN_CLIENT_SECRET: SECRETS.auditor })).code).toBe(0);
    expect(readdirSync(dir)).toHaveLength(2);
  });

  it('uses the private JWK file LATCH_DPOP_KEY names, and refuses one others can read', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    const file = join(home, 'given.jwk');
    writeFileSync(file, JSON.stringify(await exportJWK(privateKey)), { mode: 0o644 });
    chmodSync(file, 0o644);
    const open = await latchCli(['admin', 'account', 'alice'], { LATCH_DPOP: '1', LATCH_DPOP_KEY: file });
    expect(open.code).toBe(2);
    expect(open.stderr).toBe(`latch: the DPoP key file ${file} is readable by others (mode 644): chmod 600 it\n`);
    chmodSync(file, 0o600);
    const run = await latchCli(['admin', 'account', 'alice'], { LATCH_DPOP: '1', LATCH_DPOP_KEY: file });
    expect([run.code, run.stderr]).toEqual([0, '']);
    expect(await boundKeys(latch)).toContain(await thumbprintOf(file));
  });

  it('retries its token request once with the nonce Latch asks for (dpop.requireNonce "all")', async () => {
    const strict = await startLatch(redis.url, { file: { ...latch.config.file, dpop: { requireNonce: 'all' } } });
    try {
      const run = await latchCli(['admin', 'account', 'alice', '--json'], { LATCH_URL: strict.url, LATCH_DPOP: '1', XDG_CONFIG_HOME: home });
      expect([run.code, run.stderr]).toEqual([0, '']);
      expect(JSON.parse(run.stdout)).toMatchObject({ username: 'alice' });
    } finally {
      await strict.close();
    }
  });
});
