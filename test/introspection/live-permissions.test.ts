import { startLatch, type TestLatch } from '../support/latch-server.js';
import { adminCall, adminToken } from '../support/admin.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { API_B, SECRETS } from '../support/test-config.js';

let redis: TestRedis;
let latch: TestLatch;
let admin: string;
const apiA: [string, string] = ['api-a', SECRETS.apiA];
const apiB: [string, string] = ['api-b', SECRETS.apiB];
const introspect = async (token: string, auth = apiA) => (await postForm(`${latch.url}/introspect`, { token }, auth)).json!;
const setRoles = (roles: string[]) => adminCall(latch.url, 'PUT', '/admin/accounts/alice/roles', admin, { roles, reason: 'test' });

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url);
  admin = await adminToken(latch.url);
});
afterAll(async () => {
  await latch.close();
  await redis.close();
});

describe('live permissions at introspection', () => {
  it('follows a promotion and a demotion between two calls with the same token', async () => {
    await setRoles(['viewer']);
    const { tokens } = await logIn(latch.url, await webClient(latch.url), { scope: 'openid offline_access a:read a:write' });
    expect(tokens.scope).toBe('a:read a:write');
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, scope: 'a:read', roles: ['viewer'] });

    const promoted = await setRoles(['editor']);
    expect(promoted.json).toMatchObject({ roles: ['editor'], previous: ['viewer'] });
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, scope: 'a:read a:write', roles: ['editor'] });

    await setRoles(['viewer']);
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, scope: 'a:read', roles: ['viewer'] });

    await setRoles([]);
    const none = await introspect(tokens.access_token);
    expect(none).toMatchObject({ active: true, roles: [] });
    expect(none).not.toHaveProperty('scope');
    await setRoles(['viewer']);
  });

  it('never grants through a role what the grant did not include', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url), { scope: 'openid a:read' });
    await setRoles(['editor']);
    expect(await introspect(tokens.access_token)).toMatchObject({ scope: 'a:read' });
    await setRoles(['viewer']);
  });

  it('releases to each API exactly the user claims its config lists, read live', async () => {
    const a = (await logIn(latch.url, await webClient(latch.url))).tokens;
    const b = (await logIn(latch.url, await webClient(latch.url), { scope: 'openid b:read', resource: API_B })).tokens;
    const forA = await introspect(a.access_token);
    const forB = await introspect(b.access_token, apiB);
    const base = ['active', 'sub', 'client_id', 'scope', 'aud', 'exp', 'iat', 'iss', 'token_type', 'roles', 'auth_time', 'acr', 'amr'];
    expect(Object.keys(forA).sort()).toEqual([...base, 'email', 'username'].sort());
    expect(forA).toMatchObject({ email: 'alice@example.test', username: 'alice' });
    expect(Object.keys(forB).sort()).toEqual(base.sort());
  });

  it('answers inactive for the tokens of a deleted account', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url), { username: 'bob', password: 'bob-password-12' });
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true });
    expect((await adminCall(latch.url, 'POST', '/admin/accounts/bob/delete', admin, { reason: 'left' })).status).toBe(200);
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
    expect((await adminCall(latch.url, 'GET', '/admin/accounts/bob', admin)).status).toBe(404);
  });

  it('audits role changes and rejects unknown roles naming them', async () => {
    const bad = await setRoles(['superuser']);
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: 'invalid_request', error_description: 'roles: no role "superuser" in the configuration' });
    await setRoles(['editor']);
    await setRoles(['viewer']);
    const { json } = await adminCall(latch.url, 'GET', '/admin/audit?limit=1000', admin);
    const last = (json!.entries as Array<Record<string, unknown>>).filter((e) => e.action === 'set-roles').at(-1);
    expect(last).toMatchObject({ actor: 'security-admin', target: 'account:alice', detail: { before: ['editor'], after: ['viewer'] } });
  });

  it('stays one Redis round trip per introspection', async () => {
    const { tokens } = await logIn(latch.url, await webClient(latch.url));
    await new Promise((r) => setTimeout(r, 200)); // let the login's own writes settle
    const monitor = await redis.client.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time, args, source) => {
      // Commands run inside a Lua script come from "lua": they are not round trips. The
      // back-channel logout delivery loop polls its queue (keys tagged {bcl}) on its own schedule,
      // and live updates read their version counter every 500 ms (src/live/).
      const background = (args as unknown[]).some((arg) => String(arg).includes('{bcl}') || String(arg).endsWith('live:version'));
      if (source !== 'lua' && !background) seen.push(String(args[0]).toLowerCase());
    });
    for (let i = 0; i < 20; i++) expect(await introspect(tokens.access_token)).toMatchObject({ active: true });
    await new Promise((r) => setTimeout(r, 100));
    monitor.disconnect();
    // One EVALSHA each (the FETCH script), nothing else.
    expect(seen).toEqual(Array(20).fill('evalsha'));
  });
});
