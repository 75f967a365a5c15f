import { randomBytes } from 'node:crypto';
import { openRedis, type RedisClient } from '../../adapters/redis/connect.js';
import { decodeRecord, encodeRecord } from '../../adapters/redis/record-codec.js';
import { redisAdapterFactory } from '../../adapters/redis/redis-adapter.js';
import { RedisStore } from '../../adapters/redis/redis-store.js';
import { packTokenPayload, unpackTokenPayload } from '../../adapters/redis/token-payload.js';
import { backends, type TestBackend } from '../support/redis-backends.js';

const now = Math.floor(Date.now() / 1000);
const GRANT = JSON.stringify({ accountId: 'sub-1', iat: now });

describe('packed token payloads', () => {
  it('unpack to the payload oidc-provider wrote, its accountId taken from the grant', () => {
    const payload = {
      iat: now, exp: now + 3600, accountId: 'sub-1', grantId: 'grant-1', gty: 'authorization_code refresh_token', aud: 'https://api.test',
      scope: 'openid orders:read', extra: { auth_time: now - 5, acr: 'urn:latch:acr:password', amr: ['pwd'] }, jkt: 'thumb', somethingNew: { kept: true },
    };
    const packed = packTokenPayload('AccessToken', payload);
    expect(packed.startsWith('~')).toBe(true);
    expect(packed).not.toContain('sub-1');
    expect(JSON.parse(packed.slice(1))).toMatchObject({ i: now, e: 3600, y: 'a r', g: 'grant-1', x: { t: 5, c: '~p', m: ['pwd'] }, somethingNew: { kept: true } });
    expect(unpackTokenPayload(packed, GRANT)).toEqual(payload);
  });

  it('keep sessionUid only for a token that expires with its session', () => {
    const base = { iat: now, exp: now + 60, accountId: 'sub-1', grantId: 'g', sessionUid: 'uid-1' };
    expect(unpackTokenPayload(packTokenPayload('AccessToken', base), GRANT)).toEqual({ iat: now, exp: now + 60, accountId: 'sub-1', grantId: 'g' });
    const bound = { ...base, expiresWithSession: true };
    expect(unpackTokenPayload(packTokenPayload('AccessToken', bound), GRANT)).toEqual(bound);
    // A refresh token is the source of later tokens: it keeps everything.
    expect(unpackTokenPayload(packTokenPayload('RefreshToken', base))).toEqual(base);
  });

  it('keep an exchanged token’s act and any other extra claim as they were', () => {
    const payload = { iat: now, exp: now + 60, extra: { act: { sub: 'svc', act: { sub: 'gw' } }, acr: 'urn:other', custom: 1 } };
    expect(unpackTokenPayload(packTokenPayload('AccessToken', payload))).toEqual(payload);
  });

  it('read a payload written before packing (plain JSON) as it is', () => {
    const old = { iat: now, exp: now + 60, accountId: 'sub-1', grantId: 'g', gty: 'authorization_code' };
    expect(unpackTokenPayload(JSON.stringify(old), GRANT)).toEqual(old);
  });
});

describe.each(backends)('records written by the previous format, on %s', (_name, startBackend) => {
  let redis: TestBackend;
  let client: RedisClient;
  let store: RedisStore;
  let adapterFor: ReturnType<typeof redisAdapterFactory>;
  const id = () => randomBytes(32).toString('base64url').slice(0, 43);

  beforeAll(async () => {
    redis = await startBackend();
    client = await openRedis(redis.target);
    store = new RedisStore(client, Buffer.from('token-payload-test-hash-key-0123456789'));
    adapterFor = redisAdapterFactory(store);
  });
  afterAll(async () => {
    client.disconnect();
    await redis.close();
  });

  it('are found as they were, next to packed ones; new writes are packed', async () => {
    const grantId = id();
    await adapterFor('Grant').upsert(grantId, { kind: 'Grant', accountId: 'sub-1', clientId: 'app' }, 3600);
    const fields = { accountId: 'sub-1', grantId, gty: 'authorization_code', iat: now, exp: now + 60, scope: 'openid', aud: 'https://api.test' };

    const fresh = id();
    await adapterFor('AccessToken').upsert(fresh, { kind: 'AccessToken', jti: fresh, clientId: 'app', ...fields }, 60);
    const freshKey = store.keys.record('AccessToken', fresh);
    const stored = decodeRecord(await store.redis.get(freshKey))!;
    expect(stored.p.startsWith('~')).toBe(true);

    // The previous formats: the record with its birth and account, its payload plain JSON with
    // every field (before packing), or packed with the grant id (before compact access tokens).
    const full = { ...stored, t: decodeRecord(await store.redis.get(store.keys.grant(grantId)))!.t, a: store.keys.accountHash('sub-1') };
    const old = id();
    const oldKey = store.keys.record('AccessToken', old);
    await store.redis.set(oldKey, encodeRecord({ ...full, p: JSON.stringify(fields) }), 'PX', 60_000);
    const packed = id();
    const packedKey = store.keys.record('AccessToken', packed);
    await store.redis.set(packedKey, encodeRecord({ ...full, p: packTokenPayload('AccessToken', fields) }), 'PX', 60_000);
    expect(await store.redis.get(packedKey)).toContain(grantId);

    for (const [token, key] of [[fresh, freshKey], [old, oldKey], [packed, packedKey]] as const) {
      expect(await adapterFor('AccessToken').find(token)).toEqual({ kind: 'AccessToken', jti: token, clientId: 'app', ...fields });
      expect(await store.readPayload(key)).toMatchObject({ accountId: 'sub-1', grantId, clientId: 'app' });
    }
    // A packed access token is smaller than the old one by what it no longer spells out.
    expect(stored.p.length).toBeLessThan(JSON.stringify(fields).length - 40);
  });

  const grantOf = async (accountId: string) => {
    const grantId = id();
    await adapterFor('Grant').upsert(grantId, { kind: 'Grant', jti: grantId, accountId, clientId: 'app' }, 3600);
    return grantId;
  };
  const tokenFields = (grantId: string) => ({ accountId: 'sub-2', grantId, gty: 'authorization_code', iat: now, exp: now + 60, scope: 'openid', aud: 'https://api.test' });

  it('store an access token held in a grant compact (no grant id, birth or, on one server, account) and read it whole', async () => {
    const grantId = await grantOf('sub-2');
    const grantRecord = decodeRecord(await store.redis.get(store.keys.grant(grantId)))!;
    // The grant keeps its own id, once, first.
    expect(grantRecord.p.startsWith(`{"jti":"${grantId}"`)).toBe(true);
    const token = id();
    await adapterFor('AccessToken').upsert(token, { kind: 'AccessToken', jti: token, clientId: 'app', ...tokenFields(grantId) }, 60);
    const key = store.keys.record('AccessToken', token);
    const record = decodeRecord(await store.redis.get(key))!;
    expect(record).toMatchObject({ t: '', c: '', a: store.clustered ? store.keys.accountHash('sub-2') : '', k: 'app', g: store.keys.grantHash(grantId), s: '' });
    expect(record.p).not.toContain(grantId);
    expect(record.p).not.toContain('sub-2');
    expect(await adapterFor('AccessToken').find(token)).toEqual({ kind: 'AccessToken', jti: token, clientId: 'app', ...tokenFields(grantId) });
    expect(await store.readPayload(key)).toMatchObject({ accountId: 'sub-2', grantId, clientId: 'app' });
    // Its birth is its grant's.
    expect(await store.readBirth(key)).toBe(Number(grantRecord.t));
  });

  it('kill a compact access token with its account’s epoch, and when its grant is gone', async () => {
    const grantId = await grantOf('sub-3');
    const [a, b] = [id(), id()];
    for (const token of [a, b]) await adapterFor('AccessToken').upsert(token, { kind: 'AccessToken', jti: token, clientId: 'app', ...tokenFields(grantId), accountId: 'sub-3' }, 60);
    expect(await adapterFor('AccessToken').find(a)).toMatchObject({ grantId, accountId: 'sub-3' });
    // The grant's record expiring (not a revocation: a DEL) leaves its tokens without a lineage: dead.
    const grantKey = store.keys.grant(grantId);
    const grantValue = (await store.redis.get(grantKey))!;
    await store.redis.del(grantKey);
    expect(await adapterFor('AccessToken').find(a)).toBeUndefined();
    await store.redis.set(grantKey, grantValue, 'PX', 60_000);
    expect(await adapterFor('AccessToken').find(a)).toMatchObject({ grantId });
    await store.stampEpoch(store.keys.account('sub-3'), 'epoch');
    expect(await adapterFor('AccessToken').find(a)).toBeUndefined();
    expect(await adapterFor('AccessToken').find(b)).toBeUndefined();
  });

  it('write an access token under a grant of the previous format (without its own id) as before, and read it whole', async () => {
    const grantId = await grantOf('sub-4');
    const grantKey = store.keys.grant(grantId);
    const grantRecord = decodeRecord(await store.redis.get(grantKey))!;
    const { jti: _dropped, ...olderGrant } = JSON.parse(grantRecord.p) as Record<string, unknown>;
    await store.redis.set(grantKey, encodeRecord({ ...grantRecord, p: JSON.stringify(olderGrant) }), 'KEEPTTL');
    const token = id();
    await adapterFor('AccessToken').upsert(token, { kind: 'AccessToken', jti: token, clientId: 'app', ...tokenFields(grantId), accountId: 'sub-4' }, 60);
    const record = decodeRecord(await store.redis.get(store.keys.record('AccessToken', token)))!;
    expect(record).toMatchObject({ t: grantRecord.t, a: store.keys.accountHash('sub-4'), g: store.keys.grantHash(grantId) });
    expect(record.p).toContain(grantId);
    expect(await adapterFor('AccessToken').find(token)).toEqual({ kind: 'AccessToken', jti: token, clientId: 'app', ...tokenFields(grantId), accountId: 'sub-4' });
    // And the grant itself, read through the adapter, is the same either way.
    expect(await adapterFor('Grant').find(grantId)).toMatchObject({ kind: 'Grant', jti: grantId, accountId: 'sub-4', clientId: 'app' });
  });

  it('index a grant’s tokens by model code and hash, and revoke tokens indexed by whole key (before) alike', async () => {
    const grantId = await grantOf('sub-5');
    const [fresh, older, refresh] = [id(), id(), id()];
    await adapterFor('AccessToken').upsert(fresh, { kind: 'AccessToken', jti: fresh, clientId: 'app', ...tokenFields(grantId), accountId: 'sub-5' }, 60);
    await adapterFor('RefreshToken').upsert(refresh, { kind: 'RefreshToken', jti: refresh, clientId: 'app', ...tokenFields(grantId), accountId: 'sub-5' }, 600);
    const index = store.keys.grantMembers(grantId);
    expect((await store.redis.zrange(index, '0', '-1')).sort()).toEqual(
      [`at:${store.keys.recordHash('AccessToken', fresh)}`, `rt:${store.keys.recordHash('RefreshToken', refresh)}`].sort(),
    );
    // An index entry of the previous format: the whole record key.
    await adapterFor('AccessToken').upsert(older, { kind: 'AccessToken', jti: older, clientId: 'app', ...tokenFields(grantId), accountId: 'sub-5' }, 60);
    await store.redis.zrem(index, store.keys.grantMember('AccessToken', older));
    await store.redis.zadd(index, Date.now() + 60_000, store.keys.record('AccessToken', older));

    await adapterFor('AccessToken').revokeByGrantId(grantId);
    expect(await adapterFor('AccessToken').find(fresh)).toBeUndefined();
    expect(await adapterFor('AccessToken').find(older)).toBeUndefined();
    for (const token of [fresh, older]) expect(await store.redis.exists(store.keys.record('AccessToken', token))).toBe(0);
    // Only the access tokens: the refresh token is still there, and a grant deletion takes it.
    expect(await store.redis.zrange(index, '0', '-1')).toEqual([`rt:${store.keys.recordHash('RefreshToken', refresh)}`]);
    expect(await adapterFor('RefreshToken').find(refresh)).toMatchObject({ grantId });
    await adapterFor('Grant').destroy(grantId);
    expect(await store.redis.exists(store.keys.record('RefreshToken', refresh))).toBe(0);
  });
});
