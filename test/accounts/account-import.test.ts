import { randomBytes, scryptSync } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { adminToken } from '../support/admin.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, parseJson, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

/**
 * Bulk import from JSON lines with the hashes another system stored (generated here with bcryptjs
 * and node:crypto's scrypt, as those systems do), verified at the first login and upgraded then.
 */
let redis: TestRedis;
let latch: TestLatch;
let admin: string;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  admin = await adminToken(latch.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

async function importLines(lines: Array<object | string>, query: Record<string, string> = {}) {
  const body = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
  const params = new URLSearchParams({ reason: 'migration from the old IdP', ...query });
  const response = await fetch(`${latch.url}/admin/accounts/import?${params}`, {
    method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/x-ndjson' }, body,
  });
  return { status: response.status, json: parseJson(await response.text()) };
}
const introspect = async (token: string) => (await postForm(`${latch.url}/introspect`, { token }, ['api-a', SECRETS.apiA])).json;
const signIn = async (username: string, password: string) => (await logIn(latch.url, await webClient(latch.url), { username, password })).tokens;
const stored = (sub: string) => redis.client.hget(latch.store.keys.account(sub), 'password');

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
function phc(password: string): string {
  const salt = randomBytes(16);
  return `$scrypt$ln=14,r=8,p=1$${b64(salt)}$${b64(scryptSync(password, salt, 32, { N: 2 ** 14, r: 8, p: 1 }))}`;
}
function plain(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$16384$8$1$${salt.toString('base64')}$${scryptSync(password, salt, 32, { N: 16384, r: 8, p: 1 }).toString('base64')}`;
}
function django(password: string): string {
  const salt = 'Xb3kQ9zLm2Pq7RtV1wYc0a';
  return `scrypt$16384$${salt}$8$1$${scryptSync(password, salt, 64, { N: 16384, r: 8, p: 1 }).toString('base64')}`;
}

describe('POST /admin/accounts/import (JSON lines)', () => {
  const users = [
    { username: 'bc-2a', sub: 'imp-1', hash: () => bcrypt.hashSync('bcrypt 2a password', 10).replace('$2b$', '$2a$'), password: 'bcrypt 2a password' },
    { username: 'bc-2b', sub: 'imp-2', hash: () => bcrypt.hashSync('bcrypt 2b password', 4), password: 'bcrypt 2b password' },
    { username: 'bc-2y', sub: 'imp-3', hash: () => bcrypt.hashSync('bcrypt 2y password', 4).replace('$2b$', '$2y$'), password: 'bcrypt 2y password' },
    { username: 'sc-phc', sub: 'imp-4', hash: () => phc('phc scrypt password'), password: 'phc scrypt password' },
    { username: 'sc-plain', sub: 'imp-5', hash: () => plain('plain scrypt password'), password: 'plain scrypt password' },
    { username: 'sc-django', sub: 'imp-6', hash: () => django('django scrypt password'), password: 'django scrypt password' },
  ];

  it('creates accounts with their existing hashes; each signs in with its old password, and the hash becomes Latch’s scrypt then', async () => {
    const lines = users.map((u) => ({ username: u.username, sub: u.sub, email: `${u.username}@old.example`, roles: ['viewer'], password_hash: u.hash() }));
    const { status, json } = await importLines(lines);
    expect(status).toBe(200);
    expect(json).toEqual({
      dry_run: false, created: 6, skipped: 0, failed: 0, valid: 0, audit_id: expect.stringMatching(/^\d+-\d+$/),
      results: users.map((u, i) => ({ line: i + 1, username: u.username, status: 'created' })),
    });
    for (const user of users) {
      const before = await stored(user.sub);
      expect(before).not.toMatch(/^scrypt\$32768\$8\$1\$/);
      await expect(signIn(user.username, `${user.password}x`)).rejects.toThrow(/login step failed with 401/);
      const tokens = await signIn(user.username, user.password);
      expect(await introspect(tokens.access_token)).toMatchObject({ active: true, sub: user.sub, email: `${user.username}@old.example` });
      expect(await stored(user.sub)).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
      // Upgraded, the same password still signs in (now against Latch's own hash).
      await expect(signIn(user.username, user.password)).resolves.toBeDefined();
    }
  });

  it('names the line and the field of every bad line, and imports the good ones', async () => {
    const { json } = await importLines([
      { username: 'ok-1' },
      '{"username": "broken"',
      { username: 'bad email', email: 'x' },
      { username: 'ok-2', email: 'nope' },
      { username: 'ok-3', roles: ['viewer', 'astronaut'] },
      { username: 'ok-4', password_hash: '$2b$17$' + 'a'.repeat(53) },
      { username: 'ok-5', password_hash: 'md5$abc' },
      { username: 'ok-6', password: 'plaintext' },
      '',
      { username: 'ok-7', password_change_required: true, disabled: true },
    ], { first_line: '101' });
    expect(json!.results).toEqual([
      { line: 101, username: 'ok-1', status: 'created' },
      { line: 102, status: 'failed', error: expect.stringMatching(/^not valid JSON \(/) },
      { line: 103, status: 'failed', error: 'username: must be 1-64 of letters, digits, . _ @ -' },
      { line: 104, status: 'failed', error: 'email: Invalid email address' },
      { line: 105, status: 'failed', error: 'roles[1]: no role "astronaut" in the configuration' },
      { line: 106, status: 'failed', error: 'password_hash: bcrypt cost must be 4-14 (it is 17)' },
      { line: 107, status: 'failed', error: expect.stringMatching(/^password_hash: not a password hash Latch knows/) },
      { line: 108, status: 'failed', error: 'line: unknown field(s) password' },
      { line: 110, username: 'ok-7', status: 'created' },
    ]);
    expect(json).toMatchObject({ created: 2, failed: 7, skipped: 0 });
    const account = await latch.accounts.findByUsername('ok-7');
    expect(account).toMatchObject({ disabled: true, passwordChangeRequired: true, hasPassword: false });
  });

  it('skips existing usernames and subjects by default, fails them with existing=fail, and never overwrites one', async () => {
    const aliceHash = await stored('sub-alice');
    const lines = [
      { username: 'alice', password_hash: bcrypt.hashSync('taken over', 4) },
      { username: 'new-name', sub: 'sub-alice', password_hash: bcrypt.hashSync('taken over', 4) },
      { username: 'twice' },
      { username: 'TWICE' },
    ];
    const skipped = await importLines(lines);
    expect(skipped.json!.results).toEqual([
      { line: 1, username: 'alice', status: 'skipped', error: 'username: "alice" is taken by another account' },
      { line: 2, username: 'new-name', status: 'skipped', error: 'sub: "sub-alice" already has an account' },
      { line: 3, username: 'twice', status: 'created' },
      { line: 4, username: 'TWICE', status: 'skipped', error: 'username: "TWICE" is taken by another account' },
    ]);
    const failed = await importLines(lines.slice(0, 2), { existing: 'fail' });
    expect(failed.json).toMatchObject({ created: 0, skipped: 0, failed: 2, results: [{ status: 'failed' }, { status: 'failed' }] });
    expect(await stored('sub-alice')).toBe(aliceHash);
  });

  it('refuses a deleted subject whatever the option', async () => {
    await importLines([{ username: 'gone', sub: 'sub-gone' }]);
    const response = await fetch(`${latch.url}/admin/accounts/gone/delete`, {
      method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'left' }),
    });
    expect(response.status).toBe(200);
    const { json } = await importLines([{ username: 'gone', sub: 'sub-gone' }]);
    expect(json!.results).toEqual([{ line: 1, username: 'gone', status: 'failed', error: 'sub: "sub-gone" belonged to a deleted account; a deleted subject is never re-created' }]);
  });

  it('dry run: validates and checks conflicts, writes nothing, audits nothing', async () => {
    const auditBefore = await redis.client.xlen('latch:audit');
    const { json } = await importLines([{ username: 'dry-1' }, { username: 'alice' }, { username: 'dry-1' }, { username: 'dry-2', roles: ['nope'] }], { dry_run: 'true', existing: 'fail' });
    expect(json).toEqual({
      dry_run: true, created: 0, skipped: 0, failed: 3, valid: 1,
      results: [
        { line: 1, username: 'dry-1', status: 'valid' },
        { line: 2, username: 'alice', status: 'failed', error: 'username: "alice" is taken by another account' },
        { line: 3, username: 'dry-1', status: 'failed', error: 'username: "dry-1" is taken by another account' },
        { line: 4, status: 'failed', error: 'roles[0]: no role "nope" in the configuration' },
      ],
    });
    expect(await latch.accounts.findByUsername('dry-1')).toBeUndefined();
    expect(await redis.client.xlen('latch:audit')).toBe(auditBefore);
  });

  it('refuses a body that is not JSON lines, a missing reason, or too many lines', async () => {
    const asJson = await fetch(`${latch.url}/admin/accounts/import?reason=x`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' });
    expect(await asJson.json()).toEqual({ error: 'invalid_request', error_description: 'expected a JSON lines body (application/x-ndjson, application/jsonl, application/json-lines)' });
    const noReason = await fetch(`${latch.url}/admin/accounts/import`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/x-ndjson' }, body: '{}' });
    expect(await noReason.json()).toEqual({ error: 'invalid_request', error_description: 'reason: is required: say why (it goes to the audit log)' });
    const many = await importLines(Array.from({ length: 10_001 }, () => '{}'));
    expect(many).toEqual({ status: 400, json: { error: 'invalid_request', error_description: 'at most 10000 lines per request (this one has 10001): send the file in batches' } });
  });
});
