import { execFileSync } from 'node:child_process';
import { runLatchCli } from '../support/latch-cli.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A, testFileConfig } from '../support/test-config.js';

/** The client commands of the real `latch` command (bin/latch.js → compiled CLI), as their own processes. */
let redis: TestRedis;
let latch: TestLatch;

const latchCli = (args: string[]) => runLatchCli(latch.url, args);

const token = (secret: string) => postForm(`${latch.url}/token`, { grant_type: 'client_credentials', scope: 'a:read' }, ['cli-job', secret]);

beforeAll(async () => {
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  redis = await startRedis();
  latch = await startLatch(redis.url, {
    file: { ...testFileConfig(), registration: { enabled: true, open: false, openPolicy: { grant_types: ['authorization_code'], scope: 'openid', resources: [], httpsOnly: true } } },
  });
}, 120_000);
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('latch admin client commands (CLI)', () => {
  let secret: string;

  it('creates a client and prints its secret once, alone on the last line', async () => {
    const run = await latchCli(['admin', 'create-client', 'cli-job', '--grant-type', 'client_credentials', '--scope', 'a:read', '--resource', API_A, '--access-token-ttl', '120', '--reason', 'cron job']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^created client cli-job \(audit \d+-\d+\)\n[A-Za-z0-9_-]{43}\n$/);
    expect(run.stderr).toBe('client secret: shown once, Latch keeps only its hash; store it now\n');
    secret = run.stdout.trim().split('\n')[1]!;
    expect(await token(secret)).toMatchObject({ status: 200, json: { expires_in: 120 } });
  });

  it('lists and shows clients; config clients are marked as such', async () => {
    const list = await latchCli(['admin', 'clients']);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^CLIENT_ID\s+NAME\s+MANAGED BY\s+AUTH\s+GRANT TYPES\s+SCOPE\s+RESOURCES$/);
    expect(list.stdout).toMatch(/\ncli-job\s+cli-job\s+admin\s+client_secret_basic\s+client_credentials\s+a:read\s+https:\/\/a\.api\.test\n/);
    expect(list.stdout).toMatch(/\nsvc\s+-\s+config\s+/);
    const shown = JSON.parse((await latchCli(['admin', 'client', 'cli-job', '--json'])).stdout);
    expect(shown).toMatchObject({ client_id: 'cli-job', managed_by: 'admin', access_token_ttl: 120 });
  });

  it('updates only what the options name', async () => {
    const run = await latchCli(['admin', 'update-client', 'cli-job', '--name', 'Cron', '--reason', 'rename']);
    expect(run).toMatchObject({ code: 0, stdout: expect.stringMatching(/^updated cli-job: client_name \(audit \d+-\d+\)\n$/) });
    expect(JSON.parse((await latchCli(['admin', 'client', 'cli-job', '--json'])).stdout)).toMatchObject({ client_name: 'Cron', scope: 'a:read', access_token_ttl: 120 });
  });

  it('refuses to change a config client: exit 1 and the reason', async () => {
    const run = await latchCli(['admin', 'update-client', 'svc', '--name', 'x', '--reason', 'x']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('client "svc" is managed by the config file (read-only in the admin API): change it there and restart');
  });

  it('rotates the secret with a grace period, then deletes the client', async () => {
    const run = await latchCli(['admin', 'rotate-secret', 'cli-job', '--grace', '1m', '--reason', 'rotation']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^rotated the secret of cli-job: the old secret works until \d{4}-\d\d-\d\dT[\d:.]+Z \(audit \d+-\d+\)\n[A-Za-z0-9_-]{43}\n$/);
    const fresh = run.stdout.trim().split('\n')[1]!;
    expect((await token(secret)).status).toBe(200);
    expect((await token(fresh)).status).toBe(200);
    expect((await latchCli(['admin', 'rotate-secret', 'cli-job', '--grace', 'soon', '--reason', 'x'])).code).toBe(2);
    const deleted = await latchCli(['admin', 'delete-client', 'cli-job', '--reason', 'retired', '--no-wait']);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/^deleted client cli-job: \d+ token\(s\) under 0 grant\(s\), 0 session\(s\) dead now \(audit \d+-\d+\)\n$/);
    expect((await token(fresh)).status).toBe(401);
  });

  it('issues an initial access token for dynamic registration', async () => {
    const run = await latchCli(['admin', 'initial-access-token', '--uses', '3', '--ttl', '1h', '--reason', 'hackathon']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^initial access token for 3 registration\(s\), until \d{4}-\d\d-\d\dT[\d:.]+Z \(audit \d+-\d+\)\n\S+\n$/);
    const value = run.stdout.trim().split('\n')[1]!;
    const response = await fetch(`${latch.url}/reg`, {
      method: 'POST', headers: { authorization: `Bearer ${value}`, 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://hack.example/cb'] }),
    });
    expect(response.status).toBe(201);
  });
});
