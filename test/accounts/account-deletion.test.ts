import { adminCall, adminToken } from '../support/admin.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;
const started: TestLatch[] = [];
const BOB = { username: 'bob', password: 'bob-password-12' };

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  started.push(latch);
});
afterAll(async () => {
  for (const l of started) await l.close();
  await redis.close();
});

const introspect = async (url: string, token: string) => (await postForm(`${url}/introspect`, { token }, ['web', SECRETS.web])).json;

describe('deleting an account (POST /admin/accounts/{u}/delete)', () => {
  let accessToken: string;
  let refreshToken: string;

  beforeAll(async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url), BOB);
    accessToken = tokens.access_token;
    refreshToken = tokens.refresh_token!;
    expect(await introspect(latch.url, accessToken)).toMatchObject({ active: true, sub: 'sub-bob' });
    expect(await redis.client.llen(latch.store.keys.accountLogins('sub-bob'))).toBeGreaterThan(0);
    const admin = await adminToken(latch.url);
    expect((await adminCall(latch.url, 'POST', '/admin/accounts/bob/delete', admin, { reason: 'left the company' })).status).toBe(200);
  });

  it('keeps a tombstone of exactly disabled, epoch and deleted, and removes the username, profile, password and logins history', async () => {
    const fields = await redis.client.hgetall(latch.store.keys.account('sub-bob'));
    expect(Object.keys(fields).sort()).toEqual(['deleted', 'disabled', 'epoch']);
    expect(fields.disabled).toBe('1');
    expect(Number(fields.epoch)).toBeGreaterThan(0);
    expect(Math.abs(Number(fields.deleted) - Date.now())).toBeLessThan(60_000);
    expect(await redis.client.exists(latch.store.keys.username('bob'))).toBe(0);
    expect(await redis.client.exists(latch.store.keys.accountLogins('sub-bob'))).toBe(0);
  });

  it('answers {"active":false} for its access and refresh tokens', async () => {
    expect(await introspect(latch.url, accessToken)).toEqual({ active: false });
    expect(await introspect(latch.url, refreshToken)).toEqual({ active: false });
  });

  it('does not re-seed the deleted subject from the config at the next start', async () => {
    // A restart: a second Latch with the same Redis and config, which seeds the config's accounts.
    const restarted = await startLatch(redis.url);
    started.push(restarted);
    expect(await restarted.accounts.findBySub('sub-bob')).toBeUndefined();
    expect(Object.keys(await redis.client.hgetall(latch.store.keys.account('sub-bob'))).sort()).toEqual(['deleted', 'disabled', 'epoch']);
    expect(await redis.client.exists(latch.store.keys.username('bob'))).toBe(0);
    await expect(logIn(restarted.url, await webClient(restarted.url), BOB)).rejects.toThrow(/login step failed with 401/);
    expect(await introspect(restarted.url, accessToken)).toEqual({ active: false });
    const admin = await adminToken(restarted.url);
    expect((await adminCall(restarted.url, 'GET', '/admin/accounts/bob', admin)).status).toBe(404);
  });

  it('lets the username be reused only by an account with another subject', async () => {
    expect(await latch.accounts.create({ sub: 'sub-bob', username: 'bobby', password: 'bobby-password-1', roles: [] })).toBe(false);
    expect(await latch.accounts.create({ sub: 'sub-bob-2', username: 'bob', password: 'new-bob-password', roles: [] })).toBe(true);
    expect(await latch.accounts.findByUsername('bob')).toMatchObject({ sub: 'sub-bob-2', disabled: false });
    // The old tokens stay dead: they belong to the old subject.
    expect(await introspect(latch.url, accessToken)).toEqual({ active: false });
  });

  it('never creates a second account for a username already taken', async () => {
    expect(await latch.accounts.create({ sub: 'sub-someone-else', username: 'alice', password: 'another-password', roles: [] })).toBe(false);
    expect(await latch.accounts.findBySub('sub-someone-else')).toBeUndefined();
    expect(await redis.client.exists(latch.store.keys.account('sub-someone-else'))).toBe(0);
  });
});
