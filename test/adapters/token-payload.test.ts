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

    // The previous format: the same record, its payload plain JSON with every field.
    const old = id();
    const oldKey = store.keys.record('AccessToken', old);
    await store.redis.set(oldKey, encodeRecord({ ...stored, p: JSON.stringify(fields) }), 'PX', 60_000);

    for (const [token, key] of [[fresh, freshKey], [old, oldKey]] as const) {
      expect(await adapterFor('AccessToken').find(token)).toEqual({ kind: 'AccessToken', jti: token, clientId: 'app', ...fields });
      expect(await store.readPayload(key)).toMatchObject({ accountId: 'sub-1', grantId, clientId: 'app' });
    }
    // A packed access token is smaller than the old one by what it no longer spells out.
    expect(stored.p.length).toBeLessThan(JSON.stringify(fields).length - 40);
  });
});
