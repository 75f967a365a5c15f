import { randomBytes } from 'node:crypto';
import { openRedis, type RedisClient } from '../../adapters/redis/connect.js';
import { decodeFetch } from '../../adapters/redis/record-state.js';
import { redisAdapterFactory } from '../../adapters/redis/redis-adapter.js';
import { RedisStore } from '../../adapters/redis/redis-store.js';
import { unpackTokenPayload } from '../../adapters/redis/token-payload.js';
import { backends, type TestBackend } from '../support/redis-backends.js';

/**
 * The FETCH read comes back as one string of RS-separated (0x1E) fields on one server, as an array
 * on a cluster; either way the fields decode to the same record. Profile fields are the admin's to
 * write: a separator in them must not shift the fields after it.
 */
describe.each(backends)('the FETCH reply on %s', (_name, startBackend) => {
  let redis: TestBackend;
  let client: RedisClient;
  let store: RedisStore;
  let adapterFor: ReturnType<typeof redisAdapterFactory>;
  const id = () => randomBytes(32).toString('base64url').slice(0, 43);
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    redis = await startBackend();
    client = await openRedis(redis.target);
    store = new RedisStore(client, Buffer.from('fetch-reply-test-hash-key-0123456789ab'));
    adapterFor = redisAdapterFactory(store);
  });
  afterAll(async () => {
    client.disconnect();
    await redis.close();
  });

  async function tokenOf(accountId: string, profile: Record<string, string>) {
    await store.redis.hset(store.keys.account(accountId), { sub: accountId, ...profile });
    const grantId = id();
    await adapterFor('Grant').upsert(grantId, { kind: 'Grant', accountId, clientId: 'app' }, 3600);
    const tokenId = id();
    const payload = { kind: 'AccessToken', jti: tokenId, accountId, clientId: 'app', grantId, iat: now(), exp: now() + 60, scope: 'openid' };
    await adapterFor('AccessToken').upsert(tokenId, payload, 60);
    return { tokenId, grantId };
  }

  it('decodes every field of a token, its grant and its account', async () => {
    const { tokenId } = await tokenOf('sub-plain', { username: 'alice', email: 'alice@example.com', name: 'Alice A', roles: 'admin reader' });
    const record = decodeFetch(await store.fetch(store.keys.recordKeys(['ClientCredentials', 'AccessToken'], tokenId)))!;
    expect(record.index).toBe(1);
    expect(record.clientId).toBe('app');
    expect(record.grantClientId).toBe('app');
    expect(record.account).toMatchObject({ disabled: false, username: 'alice', email: 'alice@example.com', name: 'Alice A', roles: 'admin reader' });
    expect(unpackTokenPayload(record.payload, record.grantPayload)).toMatchObject({ accountId: 'sub-plain', scope: 'openid' });
    expect(JSON.parse(record.grantPayload)).toMatchObject({ accountId: 'sub-plain' });
    expect(record.born).toBeGreaterThan(0);
  });

  it('takes RS and US out of the profile fields, so no field after them moves', async () => {
    const { tokenId } = await tokenOf('sub-sep', { username: 'al\x1eice', email: 'a\x1f@example.com', name: '\x1e\x1fMallory\x1e', roles: 'reader\x1eadmin' });
    const record = decodeFetch(await store.fetch(store.keys.recordKeys(['AccessToken'], tokenId)))!;
    if (store.clustered) {
      // Read field by field on a cluster: nothing to shift, the values come back as stored.
      expect(record.account).toMatchObject({ username: 'al\x1eice', roles: 'reader\x1eadmin' });
    } else {
      expect(record.account).toMatchObject({ username: 'alice', email: 'a@example.com', name: 'Mallory', roles: 'readeradmin' });
    }
    // The fields after the profile are still where they belong.
    expect(record.clientId).toBe('app');
    expect(record.grantClientId).toBe('app');
    expect(record.sessionPayload).toBe('');
  });

  it('answers nothing for a token that is not stored', async () => {
    expect(decodeFetch(await store.fetch(store.keys.recordKeys(['AccessToken'], id())))).toBeUndefined();
  });
});
