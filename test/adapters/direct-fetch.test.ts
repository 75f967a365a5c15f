import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { openRedis, type RedisClient } from '../../adapters/redis/connect.js';
import { decodeFetch } from '../../adapters/redis/record-state.js';
import { redisAdapterFactory } from '../../adapters/redis/redis-adapter.js';
import { RedisStore } from '../../adapters/redis/redis-store.js';
import { RespConnection } from '../../adapters/redis/resp-connection.js';
import { TemporarilyUnavailable } from '../../src/errors/oauth-error.js';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';

/**
 * The hot path's reads over the store's own RESP connections (resp-connection.ts): FETCH on a
 * single Redis, the single-key reads on a cluster (cluster-reads.ts). The same answers as through
 * ioredis, and still fail closed.
 */
let redis: TestRedis;
let client: RedisClient;
let store: RedisStore;
let adapterFor: ReturnType<typeof redisAdapterFactory>;
const id = () => randomBytes(32).toString('base64url').slice(0, 43);
const now = () => Math.floor(Date.now() / 1000);
const until = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
};

beforeAll(async () => {
  redis = await startRedis();
  client = await openRedis(redis.url, { commandTimeoutMs: 500 });
  store = new RedisStore(client, Buffer.from('direct-fetch-test-hash-key-0123456789a'));
  store.deadlineMs = 500;
  adapterFor = redisAdapterFactory(store);
  store.useDirectFetch();
});
afterAll(async () => {
  client.disconnect();
  await redis.close();
});

async function token(): Promise<string> {
  const grantId = id();
  await adapterFor('Grant').upsert(grantId, { kind: 'Grant', accountId: 'sub-1', clientId: 'app' }, 3600);
  const tokenId = id();
  await adapterFor('AccessToken').upsert(tokenId, { kind: 'AccessToken', jti: tokenId, accountId: 'sub-1', clientId: 'app', grantId, iat: now(), exp: now() + 60 }, 60);
  return tokenId;
}

const fetchToken = (tokenId: string) => store.run(() => store.fetch(store.keys.recordKeys(['AccessToken'], tokenId)));

describe('FETCH over the direct connection', () => {
  it('answers what ioredis answers, also before Redis knew the script (NOSCRIPT: ioredis loads it)', async () => {
    await until(() => store.directFetchReady);
    expect(store.directFetchReady).toBe(true);
    await redis.client.script('FLUSH');
    const tokenId = await token();
    const direct = await fetchToken(tokenId);
    expect(decodeFetch(direct)).toMatchObject({ index: 0, clientId: 'app' });
    expect(direct).toEqual(await client.latchFetch(1, store.keys.recordKey('at', store.keys.hash('rec', tokenId)), store.keys.prefix));
    expect(await fetchToken(id())).toBeNull();
  });

  it('pipelines: 200 concurrent reads each get their own answer', async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, token));
    const ids = Array.from({ length: 200 }, (_, i) => (i % 2 ? tokens[i % 20]! : id()));
    const answers = await Promise.all(ids.map(fetchToken));
    answers.forEach((answer, i) => (i % 2 ? expect(decodeFetch(answer)).toMatchObject({ clientId: 'app' }) : expect(answer).toBeNull()));
  });

  it('with Redis gone answers 503 (never a record), and reads again once it is back', async () => {
    const tokenId = await token();
    await redis.stop();
    await expect(fetchToken(tokenId)).rejects.toBeInstanceOf(TemporarilyUnavailable);
    await redis.start();
    await until(() => client.status === 'ready');
    await until(() => store.directFetchReady); // it reconnects after 1 s
    // (The test server keeps no data across a restart: a new token.)
    expect(decodeFetch(await fetchToken(await token()))).toMatchObject({ clientId: 'app' });
  });

  it('with Redis hung answers 503 within the deadline', async () => {
    const tokenId = await token();
    await redis.client.client('PAUSE', 1500, 'ALL');
    const started = Date.now();
    await expect(fetchToken(tokenId)).rejects.toBeInstanceOf(TemporarilyUnavailable);
    expect(Date.now() - started).toBeLessThan(1000);
    await redis.client.client('UNPAUSE');
    expect(decodeFetch(await fetchToken(tokenId))).toMatchObject({ clientId: 'app' });
  });
});

describe('RespConnection', () => {
  it('authenticates (ACL user and password) before it is ready, and refuses to send before that', async () => {
    await redis.client.acl('SETUSER', 'latch', 'on', '>sesame', '~*', '+@all');
    const connection = new RespConnection({ host: '127.0.0.1', port: redis.port, username: 'latch', password: 'sesame', db: 2 });
    await expect(connection.send(['PING'])).rejects.toThrow('not ready');
    await until(() => connection.ready);
    await expect(connection.send(['PING'])).resolves.toBe('PONG');
    await expect(connection.send(['SET', 'in-db-2', 'yes'])).resolves.toBe('OK');
    expect(await redis.client.get('in-db-2')).toBeNull();
    await expect(connection.send(['GET', 'missing'])).resolves.toBeNull();
    await expect(connection.send(['NOSUCHCOMMAND'])).rejects.toThrow(/unknown command/i);
    connection.close();
  });

  it('never becomes ready with a wrong password', async () => {
    const connection = new RespConnection({ host: '127.0.0.1', port: redis.port, username: 'latch', password: 'wrong' });
    await new Promise((r) => setTimeout(r, 300));
    expect(connection.ready).toBe(false);
    connection.close();
  });
});

describe('cluster reads over direct connections to the primaries', () => {
  let cluster: TestRedisCluster;
  let clusterClient: RedisClient;
  let clustered: RedisStore;
  let adapter: ReturnType<typeof redisAdapterFactory>;

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    clusterClient = await openRedis(cluster.target);
    clustered = new RedisStore(clusterClient, Buffer.from('direct-fetch-test-hash-key-0123456789a'));
    adapter = redisAdapterFactory(clustered);
    clustered.useDirectFetch();
  });
  afterAll(async () => {
    clusterClient.disconnect();
    await cluster.close();
  });

  async function clusterToken(): Promise<string> {
    const grantId = id();
    await adapter('Grant').upsert(grantId, { kind: 'Grant', accountId: 'sub-1', clientId: 'app' }, 3600);
    await clustered.redis.hset(clustered.keys.account('sub-1'), { sub: 'sub-1', username: 'alice', roles: 'reader' });
    const tokenId = id();
    await adapter('AccessToken').upsert(tokenId, { kind: 'AccessToken', jti: tokenId, accountId: 'sub-1', clientId: 'app', grantId, iat: now(), exp: now() + 60 }, 60);
    return tokenId;
  }
  const read = (tokenId: string) => clustered.run(() => clustered.fetch(clustered.keys.recordKeys(['ClientCredentials', 'AccessToken'], tokenId)));

  it('answers what ioredis answers, once connected and before (ioredis answers until then)', async () => {
    const tokens = await Promise.all(Array.from({ length: 5 }, clusterToken));
    const first = await Promise.all(tokens.map(read));
    await new Promise((r) => setTimeout(r, 200)); // the primaries' connections are up now
    const second = await Promise.all(tokens.map(read));
    expect(second).toEqual(first);
    for (const answer of second) expect(decodeFetch(answer)).toMatchObject({ index: 1, clientId: 'app', account: { username: 'alice', roles: 'reader' } });
    expect(await read(id())).toBeNull();
  });

  it('follows a redirection (MOVED) through ioredis', async () => {
    const tokenId = await clusterToken();
    await read(tokenId);
    await new Promise((r) => setTimeout(r, 200));
    // Make the slot table name a wrong primary for the token's record: that node answers MOVED.
    const key = clustered.keys.recordKeys(['AccessToken'], tokenId)[0]!;
    const { slots } = clusterClient as Cluster;
    const slot = calculateSlot(key);
    const right = slots[slot]!;
    const wrong = Object.values(slots).find((nodes) => nodes[0] !== right[0])!;
    slots[slot] = wrong;
    try {
      expect(decodeFetch(await read(tokenId))).toMatchObject({ index: 1, clientId: 'app' });
    } finally {
      slots[slot] = right;
    }
  });

  it('with a primary gone answers 503 for its keys, never a record', async () => {
    const tokenId = await clusterToken();
    await read(tokenId);
    const key = clustered.keys.recordKeys(['AccessToken'], tokenId)[0]!;
    const node = (clusterClient as Cluster).slots[calculateSlot(key)]![0]!;
    const index = cluster.ports.indexOf(Number(node.split(':')[1]));
    clustered.deadlineMs = 1500;
    await cluster.stopNode(index);
    try {
      await expect(read(tokenId)).rejects.toBeInstanceOf(TemporarilyUnavailable);
    } finally {
      await cluster.startNode(index);
      clustered.deadlineMs = 0;
    }
  });
});
