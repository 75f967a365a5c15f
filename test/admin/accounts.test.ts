import { adminCall, adminToken } from '../support/admin.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

/**
 * Accounts managed at run time through the admin API: create, list and search, update the
 * profile, set a password, require a change at the next login, and what each write publishes and
 * audits. Real Redis, real Latch over HTTP, real logins through its pages.
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

const call = (method: string, path: string, body?: unknown) => adminCall(latch.url, method, path, admin, body);
const introspect = async (token: string) => (await postForm(`${latch.url}/introspect`, { token }, ['api-a', SECRETS.apiA])).json;
const signIn = async (username: string, password: string) => (await logIn(latch.url, await webClient(latch.url), { username, password })).tokens;

/** The events published since `since` (a stream id), parsed. */
async function eventsSince(since: string): Promise<Array<Record<string, unknown>>> {
  const entries = await redis.client.xrange('latch:events:stream', `(${since}`, '+');
  return entries.map(([, fields]) => JSON.parse(fields[1]!) as Record<string, unknown>);
}
const lastEventId = async () => (await redis.client.xrevrange('latch:events:stream', '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
const lastAudit = async () => (await call('GET', '/admin/audit?limit=1000')).json!.entries as Array<Record<string, unknown>>;

describe('POST /admin/accounts', () => {
  it('creates an account with a password that signs in at once, publishes credential_change create and audits the write', async () => {
    const since = await lastEventId();
    const { status, json } = await call('POST', '/admin/accounts', {
      username: 'carol', email: 'carol@example.test', name: 'Carol', roles: ['viewer'], password: 'plum tree at dusk', reason: 'new hire',
    });
    expect(status).toBe(201);
    expect(json).toEqual({
      account: {
        sub: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), username: 'carol', email: 'carol@example.test', name: 'Carol', roles: ['viewer'],
        disabled: false, has_password: true, password_change_required: false, created_at: expect.any(Number), password_changed_at: expect.any(Number),
      },
      audit_id: expect.stringMatching(/^\d+-\d+$/),
    });
    const sub = (json!.account as { sub: string }).sub;
    const tokens = await signIn('carol', 'plum tree at dusk');
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, sub, email: 'carol@example.test', username: 'carol' });
    expect(await eventsSince(since)).toContainEqual(expect.objectContaining({
      type: 'security', kind: 'credential_change', sub, credential_type: 'password', change_type: 'create', actor: 'security-admin', reason: 'new hire',
    }));
    expect((await lastAudit()).find((e) => e.id === json!.audit_id)).toMatchObject({
      actor: 'security-admin', action: 'create-account', target: 'account:carol', reason: 'new hire', detail: { sub, roles: ['viewer'], password: 'set' },
    });
    // The password is stored as Latch's scrypt, nothing in clear.
    expect(await redis.client.hget(latch.store.keys.account(sub), 'password')).toMatch(/^scrypt\$32768\$8\$1\$/);
  });

  it('creates an account without a password and answers a one-time set-up link instead', async () => {
    const { status, json } = await call('POST', '/admin/accounts', { username: 'dave', sub: 'sub-dave', reason: 'contractor' });
    expect(status).toBe(201);
    expect(json).toMatchObject({
      account: { sub: 'sub-dave', username: 'dave', has_password: false, roles: [] },
      setup_link: { link: expect.stringMatching(new RegExp(`^${latch.url}/account/reset/[A-Za-z0-9_-]{65}$`)), expires_at: expect.any(Number), delivered: false },
    });
    const { expires_at: expires } = json!.setup_link as { expires_at: number };
    expect(Math.abs(expires - (Date.now() + 3600_000))).toBeLessThan(60_000);
    await expect(signIn('dave', 'anything-at-all')).rejects.toThrow(/login step failed with 401/);
  });

  it.each([
    [{ username: 'alice', password: 'plum tree at dusk', reason: 'x' }, 409, { error: 'conflict', error_description: 'username "alice" is taken' }],
    [{ username: 'alice2', sub: 'sub-alice', reason: 'x' }, 409, { error: 'conflict', error_description: 'sub "sub-alice" already has an account' }],
    [{ username: 'erin', roles: ['pilot'], reason: 'x' }, 400, { error: 'invalid_request', error_description: 'roles[0]: no role "pilot" in the configuration' }],
    [{ username: 'erin', password: 'sunshine', reason: 'x' }, 400, { error: 'invalid_request', error_description: 'password: is one of the most common passwords, the first an attacker tries: choose another' }],
    [{ username: 'erin', password: 'erin@example.test', email: 'erin@example.test', reason: 'x' }, 400, { error: 'invalid_request', error_description: 'password: must not be your username or email address' }],
    [{ username: 'erin', email: 'not-an-email', reason: 'x' }, 400, { error: 'invalid_request', error_description: 'email: Invalid email address' }],
    [{ username: 'erin has spaces', reason: 'x' }, 400, { error: 'invalid_request', error_description: 'username: must be 1-64 of letters, digits, . _ @ -' }],
    [{ username: 'erin', sub: 'with space', reason: 'x' }, 400, { error: 'invalid_request', error_description: 'sub: must be 1-255 visible ASCII characters (OpenID Connect Core §2)' }],
    [{ username: 'erin', admin: true, reason: 'x' }, 400, { error: 'invalid_request', error_description: 'body: unknown field(s) admin' }],
    [{ username: 'erin' }, 400, { error: 'invalid_request', error_description: 'reason: is required: say why (it goes to the audit log)' }],
  ])('refuses %j with %i and the field named', async (body, status, answer) => {
    const response = await call('POST', '/admin/accounts', body);
    expect(response.status).toBe(status);
    expect(response.json).toEqual(answer);
    expect((await call('GET', '/admin/accounts/erin')).status).toBe(404);
  });

  it('never re-creates a deleted subject', async () => {
    await call('POST', '/admin/accounts', { username: 'frank', sub: 'sub-frank', password: 'plum tree at dusk', reason: 'x' });
    expect((await call('POST', '/admin/accounts/frank/delete', { reason: 'left' })).status).toBe(200);
    const again = await call('POST', '/admin/accounts', { username: 'frank', sub: 'sub-frank', reason: 'back' });
    expect(again.status).toBe(409);
    expect(again.json).toEqual({ error: 'conflict', error_description: 'sub "sub-frank" belonged to a deleted account; a deleted subject is never re-created' });
    // The username itself is free for another subject.
    expect((await call('POST', '/admin/accounts', { username: 'frank', reason: 'another frank' })).status).toBe(201);
  });
});

describe('GET /admin/accounts (list and search)', () => {
  beforeAll(async () => {
    for (const n of ['team-07', 'team-01', 'Team-03', 'team-05', 'team-02', 'team-06', 'team-04']) {
      const answer = await call('POST', '/admin/accounts', { username: n, email: `${n.toLowerCase()}@corp.example`, reason: 'seed the list' });
      expect(answer.status).toBe(201);
    }
  });

  it('pages through a username prefix in order, with a cursor, nothing twice and nothing missed', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 5; page++) {
      const query = new URLSearchParams({ prefix: 'TEAM-', limit: '3', ...(cursor ? { cursor } : {}) });
      const { status, json } = await call('GET', `/admin/accounts?${query}`);
      expect(status).toBe(200);
      seen.push(...(json!.accounts as Array<{ username: string }>).map((a) => a.username));
      cursor = json!.next_cursor as string | undefined;
      if (!cursor) break;
    }
    expect(seen).toEqual(['team-01', 'team-02', 'Team-03', 'team-04', 'team-05', 'team-06', 'team-07']);
  });

  it('finds accounts by email prefix or whole address, case-insensitively', async () => {
    const { json } = await call('GET', '/admin/accounts?email=TEAM-03@corp.example');
    expect(json).toEqual({ accounts: [expect.objectContaining({ username: 'Team-03', email: 'team-03@corp.example' })] });
    const all = await call('GET', '/admin/accounts?email=team-0&limit=200');
    expect((all.json!.accounts as unknown[]).length).toBe(7);
  });

  it('reads the index with ZRANGEBYLEX: never KEYS or SCAN on the request path', async () => {
    const connection = redis.client.duplicate();
    const monitor = await connection.monitor();
    const commands: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => commands.push(String(args[0]).toLowerCase()));
    await call('GET', '/admin/accounts?prefix=team&limit=50');
    await new Promise((r) => setTimeout(r, 100));
    monitor.disconnect();
    connection.disconnect();
    expect(commands).toContain('zrangebylex');
    expect(commands.filter((c) => c === 'keys' || c === 'scan')).toEqual([]);
  });

  it.each([
    ['prefix=a&email=b', 'body: search by prefix or by email, not both'],
    ['limit=0', 'limit: Too small: expected number to be >=1'],
    ['cursor=not*a*cursor', 'cursor: must be a cursor from a previous page'],
    [`prefix=alice&cursor=${Buffer.from('u:team-01\0x').toString('base64url')}`, 'cursor: is not a cursor of this listing (use next_cursor with the same prefix or email)'],
  ])('refuses ?%s naming the parameter', async (query, description) => {
    const { status, json } = await call('GET', `/admin/accounts?${query}`);
    expect(status).toBe(400);
    expect(json).toEqual({ error: 'invalid_request', error_description: description });
  });

  it('drops a deleted account from the list and from email search', async () => {
    expect((await call('POST', '/admin/accounts/team-07/delete', { reason: 'gone' })).status).toBe(200);
    const names = (await call('GET', '/admin/accounts?prefix=team-0&limit=200')).json!.accounts as Array<{ username: string }>;
    expect(names.map((a) => a.username)).not.toContain('team-07');
    expect((await call('GET', '/admin/accounts?email=team-07@corp.example')).json).toEqual({ accounts: [] });
  });
});

describe('PATCH /admin/accounts/{username}', () => {
  it('updates email and name, re-indexes the email, and audits before and after', async () => {
    const { status, json } = await call('PATCH', '/admin/accounts/team-01', { email: 'lead@corp.example', name: 'Team Lead', reason: 'promotion' });
    expect(status).toBe(200);
    expect(json).toMatchObject({ account: { username: 'team-01', email: 'lead@corp.example', name: 'Team Lead' }, previous: { email: 'team-01@corp.example', name: null } });
    expect((await call('GET', '/admin/accounts?email=lead@corp.example')).json!.accounts).toEqual([expect.objectContaining({ username: 'team-01' })]);
    expect((await call('GET', '/admin/accounts?email=team-01@corp.example')).json!.accounts).toEqual([]);
    expect((await lastAudit()).find((e) => e.id === json!.audit_id)).toMatchObject({
      action: 'update-account', target: 'account:team-01', detail: { before: { email: 'team-01@corp.example', name: null }, after: { email: 'lead@corp.example', name: 'Team Lead' } },
    });
    const removed = await call('PATCH', '/admin/accounts/team-01', { name: null, reason: 'privacy' });
    expect(removed.json).toMatchObject({ previous: { name: 'Team Lead' } });
    expect(removed.json!.account).not.toHaveProperty('name');
  });

  it('refuses a body with nothing to change, or the username (it never changes)', async () => {
    expect((await call('PATCH', '/admin/accounts/team-01', { reason: 'x' })).json).toEqual({ error: 'invalid_request', error_description: 'body: give email and/or name (null removes one)' });
    expect((await call('PATCH', '/admin/accounts/team-01', { username: 'x', reason: 'x' })).json).toEqual({ error: 'invalid_request', error_description: 'body: unknown field(s) username' });
    expect((await call('PATCH', '/admin/accounts/nobody', { name: 'x', reason: 'x' })).status).toBe(404);
  });
});

describe('PUT /admin/accounts/{username}/password', () => {
  it('sets the password, revokes every session and token (published), and publishes credential_change update', async () => {
    const before = await signIn('alice', 'alice-password-1');
    const since = await lastEventId();
    const { status, json } = await call('PUT', '/admin/accounts/alice/password', { password: 'a brand new secret', reason: 'helpdesk ticket 42' });
    expect(status).toBe(200);
    expect(json).toMatchObject({ epoch: expect.any(Number), grants: expect.any(Number), tokens: expect.any(Number), audit_id: expect.any(String) });
    expect(await introspect(before.access_token)).toEqual({ active: false });
    const events = await eventsSince(since);
    expect(events).toContainEqual(expect.objectContaining({ type: 'revocation', scope: 'account', sub: 'sub-alice', actor: 'security-admin', reason: 'helpdesk ticket 42' }));
    expect(events).toContainEqual(expect.objectContaining({
      type: 'security', kind: 'credential_change', sub: 'sub-alice', credential_type: 'password', change_type: 'update', actor: 'security-admin', reason: 'helpdesk ticket 42',
    }));
    await expect(signIn('alice', 'alice-password-1')).rejects.toThrow(/login step failed with 401/);
    expect(await introspect((await signIn('alice', 'a brand new secret')).access_token)).toMatchObject({ active: true });
    expect((await lastAudit()).find((e) => e.id === json!.audit_id)).toMatchObject({
      actor: 'security-admin', action: 'set-password', target: 'account:alice', detail: { change_type: 'update', sessions_revoked: true },
    });
  });

  it('keeps sessions and tokens alive only when asked (revoke_sessions: false)', async () => {
    const tokens = await signIn('alice', 'a brand new secret');
    const { status } = await call('PUT', '/admin/accounts/alice/password', { password: 'another new secret', revoke_sessions: false, reason: 'rotation' });
    expect(status).toBe(200);
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true });
  });

  it('applies the policy to what the admin sets, naming the field', async () => {
    const { status, json } = await call('PUT', '/admin/accounts/alice/password', { password: 'short', reason: 'x' });
    expect(status).toBe(400);
    expect(json).toEqual({ error: 'invalid_request', error_description: 'password: must be at least 8 characters long' });
    expect((await call('PUT', '/admin/accounts/alice/password', { reason: 'x' })).json).toEqual({ error: 'invalid_request', error_description: 'password: is required' });
  });
});

describe('requiring a password change at the next login', () => {
  it('flags the account, and a temporary password set with password_change_required flags it too', async () => {
    const { json } = await call('PUT', '/admin/accounts/bob/password', { password: 'temporary pass 1', password_change_required: true, reason: 'locked out' });
    expect(json).toMatchObject({ audit_id: expect.any(String) });
    expect((await call('GET', '/admin/accounts/bob')).json).toMatchObject({ password_change_required: true, has_password: true });
    const off = await call('POST', '/admin/accounts/bob/require-password-change', { required: false, reason: 'changed my mind' });
    expect(off.json).toEqual({ password_change_required: false, audit_id: expect.any(String) });
    expect((await call('GET', '/admin/accounts/bob')).json).toMatchObject({ password_change_required: false });
    expect((await call('POST', '/admin/accounts/bob/require-password-change', { reason: 'suspicious' })).json).toMatchObject({ password_change_required: true });
    expect((await call('POST', '/admin/accounts/nobody/require-password-change', { reason: 'x' })).status).toBe(404);
  });

  it('needs admin:write for every account write, admin:read to list', async () => {
    const reader = await adminToken(latch.url, 'auditor');
    expect((await adminCall(latch.url, 'GET', '/admin/accounts?prefix=team', reader)).status).toBe(200);
    for (const [method, path] of [['POST', '/admin/accounts'], ['PATCH', '/admin/accounts/bob'], ['PUT', '/admin/accounts/bob/password'], ['POST', '/admin/accounts/bob/reset-link'], ['POST', '/admin/accounts/import']]) {
      const { status, headers } = await adminCall(latch.url, method!, path!, reader, { reason: 'x' });
      expect(status).toBe(403);
      expect(headers.get('www-authenticate')).toContain('scope="admin:write"');
    }
  });
});

describe('GET /admin/openapi.json', () => {
  it('describes every account route with its method', async () => {
    const { json } = await adminCall(latch.url, 'GET', '/admin/openapi.json');
    const paths = json!.paths as Record<string, Record<string, unknown>>;
    const described = Object.entries(paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(described).toEqual(expect.arrayContaining([
      'GET /admin/accounts', 'POST /admin/accounts', 'GET /admin/accounts/{username}', 'PATCH /admin/accounts/{username}',
      'PUT /admin/accounts/{username}/password', 'POST /admin/accounts/{username}/require-password-change',
      'POST /admin/accounts/{username}/reset-link', 'POST /admin/accounts/import', 'POST /admin/accounts/{username}/delete',
    ]));
  });
});
