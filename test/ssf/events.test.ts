import * as oidc from 'openid-client';
import { parseFileConfig } from '../../src/config/load.js';
import { adminCall, adminToken } from '../support/admin.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { logIn, postForm, webClient } from '../support/oauth.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { ALL_EVENTS, CAEP, createStream, drain, receiverToken, RISC, ssfCall, ssfFileConfig, type VerifiedSet } from '../support/ssf.js';
import { SECRETS, testFileConfig } from '../support/test-config.js';

/**
 * What each Latch event becomes on a stream: the SETs' types, subjects and members, checked as a
 * receiver verifies them (signature, typ, iss, aud, jti, iat, no exp/sub, one event: verifySet),
 * and which streams get them (events_requested, subjects).
 */
let redis: TestRedis;
let latch: TestLatch;
let admin: string;
let siem: string;

const USERS = ['carol', 'dave', 'erin', 'frank'] as const;
const LONDON = { 'cf-iplatitude': '51.5074', 'cf-iplongitude': '-0.1278', 'cf-ipcity': 'London', 'cf-ipcountry': 'GB' };
const TOKYO = { 'cf-iplatitude': '35.6762', 'cf-iplongitude': '139.6503', 'cf-ipcity': 'Tokyo', 'cf-ipcountry': 'JP' };

beforeAll(async () => {
  redis = await startRedis();
  const base = testFileConfig();
  const file = ssfFileConfig({}, parseFileConfig({
    ...base,
    accounts: [...base.accounts, ...USERS.map((u) => ({ sub: `sub-${u}`, username: u, password: `${u}-password-1`, email: `${u}@example.test`, roles: ['viewer'] }))],
  }));
  latch = await startLatch(redis.url, { file });
  [admin, siem] = await Promise.all([adminToken(latch.url), receiverToken(latch.url)]);
});
afterAll(async () => {
  await latch?.close();
  await redis?.close();
});

const stream = (body: Record<string, unknown> = { events_requested: ALL_EVENTS }) => createStream(latch.url, siem, body);
const setsOf = (id: string) => drain(latch.url, siem, id, 'siem');
const user = (sub: string) => ({ format: 'iss_sub', iss: latch.url, sub });
const app = (id: string) => ({ format: 'opaque', id });

async function adminWrite(path: string, body: Record<string, unknown> = {}, method = 'POST') {
  const { status, json } = await adminCall(latch.url, method, path, admin, { reason: 'test: ssf', ...body });
  expect({ status, json }).toMatchObject({ status: 200 });
  return json!;
}

const signIn = (username: string, loginHeaders?: Record<string, string>) =>
  webClient(latch.url).then((client) =>
    logIn(latch.url, client, { username, password: username === 'alice' ? 'alice-password-1' : `${username}-password-1`, loginHeaders }).then((r) => ({ client, ...r })),
  );

const summary = (sets: VerifiedSet[]) => sets.map((s) => ({ type: s.type, sub_id: s.claims.sub_id, event: s.event }));
const now = expect.any(Number);

describe('what each Latch event becomes', () => {
  it('admin revoke-user: one CAEP session-revoked about the user (iss_sub), with every claim a SET needs', async () => {
    const { stream_id } = await stream();
    await adminWrite('/admin/accounts/alice/revoke', { reason: 'stolen phone' });
    const [set, ...more] = await setsOf(stream_id);
    expect(more).toEqual([]);
    expect(set!.claims).toEqual({
      iss: latch.url,
      aud: 'siem',
      jti: expect.stringMatching(/^[0-9a-f]{40}$/),
      iat: now,
      txn: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      sub_id: user('sub-alice'),
      events: { [`${CAEP}session-revoked`]: { event_timestamp: now, initiating_entity: 'admin', reason_admin: { en: 'stolen phone' } } },
    });
    expect(Math.abs((set!.claims.iat as number) - Date.now() / 1000)).toBeLessThan(30);
  });

  it('admin revoke-session: session-revoked about the user, the client and the device session (complex subject)', async () => {
    await signIn('carol');
    const { stream_id } = await stream();
    const { json } = await adminCall(latch.url, 'GET', '/admin/accounts/carol/sessions', admin);
    const session = (json!.sessions as Array<{ id: string }>)[0]!;
    await adminWrite(`/admin/accounts/carol/sessions/${session.id}/revoke`);
    expect(summary(await setsOf(stream_id))).toEqual([
      {
        type: `${CAEP}session-revoked`,
        sub_id: { format: 'complex', user: user('sub-carol'), application: app('web'), session: app(session.id) },
        event: { event_timestamp: now, initiating_entity: 'admin', reason_admin: { en: 'test: ssf' } },
      },
    ]);
  });

  it('admin disable: session-revoked and RISC account-disabled, tied by one txn', async () => {
    const { stream_id } = await stream();
    await adminWrite('/admin/accounts/dave/disable', { reason: 'left the company' });
    const sets = await setsOf(stream_id);
    expect(sets.map((s) => [s.type, s.claims.sub_id])).toEqual([
      [`${CAEP}session-revoked`, user('sub-dave')],
      [`${RISC}account-disabled`, user('sub-dave')],
    ]);
    expect(sets[0]!.claims.txn).toBe(sets[1]!.claims.txn);
    expect(sets[0]!.claims.jti).not.toBe(sets[1]!.claims.jti);
  });

  it('admin enable: RISC account-enabled', async () => {
    const { stream_id } = await stream();
    await adminWrite('/admin/accounts/dave/enable', { reason: 'came back' });
    expect(summary(await setsOf(stream_id))).toEqual([
      { type: `${RISC}account-enabled`, sub_id: user('sub-dave'), event: { event_timestamp: now, initiating_entity: 'admin', reason_admin: { en: 'came back' } } },
    ]);
  });

  it('admin set-roles: CAEP token-claims-change with the new roles', async () => {
    const { stream_id } = await stream();
    await adminWrite('/admin/accounts/erin/roles', { roles: ['editor'] }, 'PUT');
    expect(summary(await setsOf(stream_id))).toEqual([
      { type: `${CAEP}token-claims-change`, sub_id: user('sub-erin'), event: { event_timestamp: now, initiating_entity: 'admin', reason_admin: { en: 'test: ssf' }, claims: { roles: ['editor'] } } },
    ]);
  });

  it('admin delete: session-revoked, then RISC account-purged', async () => {
    const { stream_id } = await stream();
    await adminWrite('/admin/accounts/frank/delete', { reason: 'right to erasure' });
    expect((await setsOf(stream_id)).map((s) => [s.type, s.claims.sub_id])).toEqual([
      [`${CAEP}session-revoked`, user('sub-frank')],
      [`${RISC}account-purged`, user('sub-frank')],
    ]);
  });

  it('admin revoke-client: session-revoked about the application alone', async () => {
    const { stream_id } = await stream();
    await adminWrite('/admin/clients/svc/revoke');
    expect(summary(await setsOf(stream_id))).toEqual([
      { type: `${CAEP}session-revoked`, sub_id: { format: 'complex', application: app('svc') }, event: { event_timestamp: now, initiating_entity: 'admin', reason_admin: { en: 'test: ssf' } } },
    ]);
  });

  it('RFC 7009 by the client: session-revoked about the user at that client, initiated by the user', async () => {
    const { tokens } = await signIn('alice');
    const { stream_id } = await stream();
    await postForm(`${latch.url}/revoke`, { token: tokens.refresh_token! }, ['web', SECRETS.web]);
    const sets = await setsOf(stream_id);
    expect(sets.length).toBeGreaterThanOrEqual(1);
    for (const set of sets) {
      expect(set.type).toBe(`${CAEP}session-revoked`);
      expect(set.claims.sub_id).toEqual({ format: 'complex', user: user('sub-alice'), application: app('web') });
      expect(set.event).toEqual({ event_timestamp: now, initiating_entity: 'user', reason_admin: { en: 'revoked by the client (RFC 7009)' } });
    }
  });

  it('refresh token reuse: session-revoked initiated by policy', async () => {
    const { client, tokens } = await signIn('alice');
    await oidc.refreshTokenGrant(client, tokens.refresh_token!);
    const { stream_id } = await stream();
    await oidc.refreshTokenGrant(client, tokens.refresh_token!).catch(() => undefined);
    const sets = await setsOf(stream_id);
    expect(sets.map((s) => s.event)).toContainEqual({ event_timestamp: now, initiating_entity: 'policy', reason_admin: { en: 'refresh token reuse' } });
  });

  it('impossible travel (revoke): session-revoked by policy, then CAEP risk-level-change HIGH for the user', async () => {
    await signIn('alice', LONDON);
    const key = latch.store.keys.accountLogins('sub-alice');
    const last = JSON.parse((await redis.client.lindex(key, 0))!);
    await redis.client.lset(key, 0, JSON.stringify({ ...last, at: last.at - 5 * 60_000 }));
    const { stream_id } = await stream();
    await expect(signIn('alice', TOKYO)).rejects.toThrow(/login step failed with 403/);
    const sets = await setsOf(stream_id);
    expect(sets.map((s) => s.type)).toEqual([`${CAEP}session-revoked`, `${CAEP}risk-level-change`]);
    expect(sets[0]!.event).toMatchObject({ initiating_entity: 'policy', reason_admin: { en: expect.stringMatching(/^impossible travel: London, GB → Tokyo, JP/) } });
    expect(sets[1]!.claims.sub_id).toEqual(user('sub-alice'));
    expect(sets[1]!.event).toEqual({
      event_timestamp: now,
      initiating_entity: 'policy',
      reason_admin: { en: expect.stringMatching(/^impossible travel: London, GB → Tokyo, JP, \d+ km at \d+ km\/h \(revoke\)$/) },
      principal: 'USER',
      current_level: 'HIGH',
      risk_reason: 'IMPOSSIBLE_TRAVEL',
    });
  });

  it('a credential_change security event: CAEP credential-change about the user (password) or the client (client_secret)', async () => {
    const { stream_id } = await stream();
    const events = latch.revocations.events;
    await events.publish({ type: 'security', kind: 'credential_change', sub: 'sub-bob', credential_type: 'password', change_type: 'update', actor: 'user', reason: 'changed on the account page' });
    await events.publish({ type: 'security', kind: 'credential_change', client_id: 'svc', credential_type: 'client_secret', change_type: 'revoke', actor: 'security-admin', reason: 'rotated' });
    await events.publish({ type: 'security', kind: 'credential_change', sub: 'sub-bob', credential_type: 'carrier-pigeon', change_type: 'update', actor: 'user', reason: 'not a credential type' });
    expect(summary(await setsOf(stream_id))).toEqual([
      {
        type: `${CAEP}credential-change`,
        sub_id: user('sub-bob'),
        event: { event_timestamp: now, initiating_entity: 'user', reason_admin: { en: 'changed on the account page' }, credential_type: 'password', change_type: 'update' },
      },
      {
        type: `${CAEP}credential-change`,
        sub_id: { format: 'complex', application: app('svc') },
        event: { event_timestamp: now, initiating_entity: 'admin', reason_admin: { en: 'rotated' }, credential_type: 'client_secret', change_type: 'revoke' },
      },
    ]);
  });
});

describe('which streams get an event', () => {
  it('only the event types a stream requested (events_delivered)', async () => {
    const only = await stream({ events_requested: [`${RISC}account-disabled`] });
    await adminWrite('/admin/accounts/dave/disable');
    expect((await setsOf(only.stream_id)).map((s) => s.type)).toEqual([`${RISC}account-disabled`]);
    await adminWrite('/admin/accounts/dave/enable');
  });

  it('every stream of every receiver, each SET with its own aud and jti and the same txn', async () => {
    const other = await receiverToken(latch.url, 'other-receiver');
    const streams = await Promise.all([
      ...Array.from({ length: 5 }, () => stream()),
      ...Array.from({ length: 5 }, () => createStream(latch.url, other, { events_requested: ALL_EVENTS })),
    ]);
    await adminWrite('/admin/accounts/bob/revoke');
    const sets = await Promise.all(streams.map((s, i) => drain(latch.url, i < 5 ? siem : other, s.stream_id, i < 5 ? 'siem' : 'other-receiver')));
    expect(sets.map((s) => s.length)).toEqual(Array(10).fill(1));
    expect(new Set(sets.map((s) => s[0]!.claims.jti)).size).toBe(10);
    expect(new Set(sets.map((s) => s[0]!.claims.txn)).size).toBe(1);
    expect(sets.map((s) => s[0]!.claims.aud)).toEqual([...Array(5).fill('siem'), ...Array(5).fill('other-receiver')]);
  });

  it('default subjects ALL: a removed subject gets no events until it is added again', async () => {
    const { stream_id } = await stream();
    const removed = await ssfCall(latch.url, 'POST', '/ssf/subjects/remove', siem, { stream_id, subject: user('sub-alice') });
    expect({ status: removed.status, text: removed.text }).toEqual({ status: 204, text: '' });
    await adminWrite('/admin/accounts/alice/revoke');
    await adminWrite('/admin/accounts/bob/revoke');
    expect((await setsOf(stream_id)).map((s) => s.claims.sub_id)).toEqual([user('sub-bob')]);
    const added = await ssfCall(latch.url, 'POST', '/ssf/subjects/add', siem, { stream_id, subject: user('sub-alice'), verified: true });
    expect({ status: added.status, text: added.text }).toEqual({ status: 200, text: '' });
    await adminWrite('/admin/accounts/alice/revoke');
    expect((await setsOf(stream_id)).map((s) => s.claims.sub_id)).toEqual([user('sub-alice')]);
  });

  it('answers 400 naming the member for a malformed subject, and 200 for a well-formed unknown one (no probing)', async () => {
    const { stream_id } = await stream();
    const bad = await ssfCall(latch.url, 'POST', '/ssf/subjects/add', siem, { stream_id, subject: { format: 'iss_sub', iss: latch.url } });
    expect(bad.json).toEqual({ error: 'invalid_request', error_description: 'subject.sub: required for format "iss_sub" (a non-empty string)' });
    const unknownFormat = await ssfCall(latch.url, 'POST', '/ssf/subjects/add', siem, { stream_id, subject: { format: 'carrier_pigeon', id: 'x' } });
    expect(unknownFormat.json).toEqual({ error: 'invalid_request', error_description: 'subject.format: unsupported subject identifier format "carrier_pigeon"' });
    expect((await ssfCall(latch.url, 'POST', '/ssf/subjects/add', siem, { stream_id, subject: user('sub-nobody') })).status).toBe(200);
  });

  describe('default subjects NONE', () => {
    let none: TestLatch;
    beforeAll(async () => {
      // A second instance on the same Redis whose streams start with no subject.
      none = await startLatch(redis.url, { config: { ...latch.config, file: { ...latch.config.file, ssf: { ...latch.config.file.ssf, defaultSubjects: 'NONE' } } } });
    });
    afterAll(() => none?.close());

    it('nothing until a subject is added; a user added by email gets events whose sub_id is that email', async () => {
      const { stream_id } = await createStream(none.url, siem, { events_requested: ALL_EVENTS });
      await adminWrite('/admin/accounts/alice/revoke');
      expect(await setsOf(stream_id)).toEqual([]);
      await ssfCall(none.url, 'POST', '/ssf/subjects/add', siem, { stream_id, subject: { format: 'email', email: 'ALICE@example.test' } });
      await adminWrite('/admin/accounts/alice/revoke');
      await adminWrite('/admin/accounts/bob/revoke');
      expect((await setsOf(stream_id)).map((s) => s.claims.sub_id)).toEqual([{ format: 'email', email: 'alice@example.test' }]);
    });

    it('a complex subject matches member by member, an absent member matching anything (SSF §8.1.3.1)', async () => {
      const { stream_id } = await createStream(none.url, siem, { events_requested: ALL_EVENTS });
      await ssfCall(none.url, 'POST', '/ssf/subjects/add', siem, { stream_id, subject: { format: 'complex', user: user('sub-alice'), application: app('web') } });
      await adminWrite('/admin/accounts/alice/clients/web/revoke');
      await adminWrite('/admin/accounts/alice/clients/other-web/revoke');
      await adminWrite('/admin/accounts/bob/clients/web/revoke');
      await adminWrite('/admin/accounts/alice/revoke');
      expect((await setsOf(stream_id)).map((s) => s.claims.sub_id)).toEqual([
        { format: 'complex', user: user('sub-alice'), application: app('web') },
        user('sub-alice'),
      ]);
    });
  });
});
