import { execFileSync } from 'node:child_process';
import { runLatchCli } from '../support/latch-cli.js';
import { API_SECRETS, apiFileConfig, NEW_API } from '../support/api-config.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { postForm } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_A } from '../support/test-config.js';

/** `latch admin apis …` of the real `latch` command (bin/latch.js → compiled CLI), as its own process. */
let redis: TestRedis;
let latch: TestLatch;

const latchCli = (args: string[]) => runLatchCli(latch.url, args);

beforeAll(async () => {
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  redis = await startRedis();
  latch = await startLatch(redis.url, { file: apiFileConfig() });
}, 120_000);
afterAll(async () => {
  await latch.close();
  await redis.close();
});

const machineToken = () => postForm(`${latch.url}/token`, { grant_type: 'client_credentials', resource: NEW_API, scope: 'n:read' }, ['tools', API_SECRETS.tools]);

describe('latch admin apis (CLI)', () => {
  it('creates, shows, lists, updates and deletes an API; each write takes effect at once', async () => {
    const created = await latchCli(['admin', 'apis', 'create', NEW_API, '--name', 'New API', '--scope', 'n:read', '--scope', 'n:write', '--claim', 'email', '--introspector', 'api-b', '--ttl', '120', '--reason', 'launch']);
    expect(created).toEqual({ code: 0, stdout: expect.stringMatching(new RegExp(`^registered ${NEW_API.replace(/[./]/g, '\\$&')} \\(audit \\d+-\\d+\\)\\n$`)), stderr: '' });
    expect((await machineToken()).json).toMatchObject({ expires_in: 120, scope: 'n:read' });

    const shown = JSON.parse((await latchCli(['admin', 'apis', 'show', NEW_API, '--json'])).stdout);
    expect(shown).toEqual({
      audience: NEW_API, name: 'New API', scopes: ['n:read', 'n:write'], claims: ['email'], introspectors: ['api-b'], accessTokenTTL: 120,
      managed_by: 'admin', created_at: expect.any(Number), updated_at: expect.any(Number), revision: 1,
    });

    const list = await latchCli(['admin', 'apis', 'list']);
    expect(list.code).toBe(0);
    const lines = list.stdout.split('\n');
    expect(lines[0]).toMatch(/^AUDIENCE\s+NAME\s+SCOPES\s+CLAIMS\s+INTROSPECTORS\s+TTL\s+MANAGED BY$/);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${API_A.replace(/[./]/g, '\\$&')}\\s+API A\\s+a:read a:write\\s+email username\\s+api-a\\s+600\\s+config$`)));
    expect(lines).toContainEqual(expect.stringMatching(/^https:\/\/new\.api\.test\/v1\s+New API\s+n:read n:write\s+email\s+api-b\s+120\s+admin$/));

    const updated = await latchCli(['admin', 'apis', 'update', NEW_API, '--no-claims', '--ttl', '60', '--reason', 'shorter']);
    expect(updated.stdout).toMatch(/^updated https:\/\/new\.api\.test\/v1 to revision 2 \(audit \d+-\d+\)\n$/);
    expect((await machineToken()).json).toMatchObject({ expires_in: 60 });
    expect(JSON.parse((await latchCli(['admin', 'apis', 'show', NEW_API, '--json'])).stdout)).toMatchObject({ claims: [], accessTokenTTL: 60, revision: 2 });

    const deleted = await latchCli(['admin', 'apis', 'delete', NEW_API, '--reason', 'retired']);
    expect(deleted.stdout).toMatch(/^removed https:\/\/new\.api\.test\/v1: its tokens are dead \(audit \d+-\d+\)\n$/);
    expect((await machineToken()).json).toMatchObject({ error: 'invalid_target' });
  });

  it('prints Latch’s refusal and exits 1: a config API is read-only, a bad field is named', async () => {
    expect(await latchCli(['admin', 'apis', 'delete', API_A, '--reason', 'no'])).toEqual({
      code: 1, stdout: '',
      stderr: `latch: DELETE /admin/apis/${encodeURIComponent(API_A)} failed (409): the API "${API_A}" is managed by the config file (resourceServers): change it there and restart Latch\n`,
    });
    expect(await latchCli(['admin', 'apis', 'create', 'https://x.test', '--name', 'X', '--scope', 'x', '--introspector', 'ghost', '--reason', 'no'])).toEqual({
      code: 1, stdout: '', stderr: 'latch: POST /admin/apis failed (400): introspectors[0]: no client has client_id "ghost"\n',
    });
    expect((await latchCli(['admin', 'apis', 'show', 'https://nobody.test'])).stderr).toBe(`latch: GET /admin/apis/${encodeURIComponent('https://nobody.test')} failed (404): no API with audience "https://nobody.test"\n`);
  });

  it('refuses bad usage with exit 2 before calling Latch', async () => {
    expect(await latchCli(['admin', 'apis', 'create', NEW_API, '--name', 'N', '--scope', 's'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^latch: missing --reason/) });
    expect(await latchCli(['admin', 'apis', 'update', NEW_API, '--ttl', 'soon', '--reason', 'r'])).toMatchObject({ code: 2, stderr: 'latch: --ttl is a number of seconds\n' });
    expect(await latchCli(['admin', 'apis', 'rename'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^latch: unknown command "admin apis rename": use list, show, create, update or delete/) });
  });
});
