import { Cluster, type Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { openRedis, type RedisClient } from '../../adapters/redis/connect.js';
import { redisAdapterFactory, type Death } from '../../adapters/redis/redis-adapter.js';
import { RedisStore } from '../../adapters/redis/redis-store.js';
import { backends, type TestBackend } from '../support/redis-backends.js';

describe.each(backends)('Redis adapter on %s', (_name, startBackend) => {
let redis: TestBackend;
let client: RedisClient;
let store: RedisStore;
let adapterFor: ReturnType<typeof redisAdapterFactory>;

const id = () => randomBytes(32).toString('base64url').slice(0, 43);
const now = () => Math.floor(Date.now() / 1000);
/** Tokens take their birth from their grant, so each test token gets a real grant first. */
async function newGrant(accountId = 'sub-1'): Promise<string> {
  const grantId = id();
  await adapterFor('Grant').upsert(grantId, { kind: 'Grant', accountId, clientId: 'c' }, 3600);
  return grantId;
}

beforeAll(async () => {
  redis = await startBackend();
  client = await openRedis(redis.target);
  store = new RedisStore(client, Buffer.from('adapter-test-hash-key-0123456789abcdef'));
  adapterFor = redisAdapterFactory(store);
});
afterAll(async () => {
  client.disconnect();
  await redis.close();
});

describe('ReplayDetection (spent JWT ids)', () => {
  it('claims the jti in find(): of 8 concurrent find-then-save for one jti, exactly one finds it unspent, and none fails', async () => {
    const rd = adapterFor('ReplayDetection');
    const jti = id();
    const spend = async () => {
      if (await rd.find(jti)) return false;
      await rd.upsert(jti, { kind: 'ReplayDetection', jti, iss: 'c' }, 60);
      return true;
    };
    const results = await Promise.all(Array.from({ length: 8 }, spend));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await rd.find(jti)).toMatchObject({ jti });
    // The save set the JWT's own lifetime (60 s + the clock tolerance), replacing the claim's.
    const ttl = await redis.client.pttl(store.keys.record('ReplayDetection', jti));
    expect(ttl).toBeGreaterThan(74_000);
    expect(ttl).toBeLessThanOrEqual(75_000);
  });
});

describe('records', () => {
  it('round-trips a payload, restoring the id it never stored', async () => {
    const at = adapterFor('AccessToken');
    const tokenId = id();
    const payload = { jti: tokenId, kind: 'AccessToken', accountId: 'sub-1', clientId: 'c', grantId: await newGrant(), iat: now(), exp: now() + 60 };
    await at.upsert(tokenId, payload, 60);
    expect(await at.find(tokenId)).toEqual(payload);
    const key = store.keys.record('AccessToken', tokenId);
    expect(await redis.client.get(key)).not.toContain(tokenId);
    expect(key).not.toContain(tokenId);
  });

  it('keeps records for their lifetime plus the clock tolerance, then Redis drops them', async () => {
    const at = adapterFor('AccessToken');
    const tokenId = id();
    await at.upsert(tokenId, { kind: 'AccessToken', grantId: 'g-ttl' }, 60);
    const ttl = await redis.client.pttl(store.keys.record('AccessToken', tokenId));
    expect(ttl).toBeGreaterThan(74_000);
    expect(ttl).toBeLessThanOrEqual(75_000);
    const indexTtl = await redis.client.pttl(store.keys.grantMembers('g-ttl'));
    expect(indexTtl).toBeGreaterThan(74_000);
  });

  it('extends a grant index TTL to its longest-lived member and never shortens it', async () => {
    const grantId = 'g-extend';
    await adapterFor('RefreshToken').upsert(id(), { kind: 'RefreshToken', grantId }, 3600);
    await adapterFor('AccessToken').upsert(id(), { kind: 'AccessToken', grantId }, 60);
    const ttl = await redis.client.pttl(store.keys.grantMembers(grantId));
    expect(ttl).toBeGreaterThan(3_600_000);
  });

  it('trims expired members from an index when it is written', async () => {
    const grantId = 'g-trim';
    const members = store.keys.grantMembers(grantId);
    await redis.client.zadd(members, Date.now() - 1000, 'latch:at:{stale}');
    await adapterFor('AccessToken').upsert(id(), { kind: 'AccessToken', grantId }, 60);
    expect(await redis.client.zrange(members, '0', '-1')).toHaveLength(1);
  });

  it('consumes once: of 50 concurrent consumes exactly one succeeds, and the losers revoke the grant', async () => {
    const rt = adapterFor('RefreshToken');
    const grant = adapterFor('Grant');
    const grantId = id();
    const tokenId = id();
    await grant.upsert(grantId, { kind: 'Grant', accountId: 'sub-1', clientId: 'c' }, 3600);
    await rt.upsert(tokenId, { kind: 'RefreshToken', grantId }, 3600);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => rt.consume(tokenId)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(49);
    expect(rejected[0]!.reason).toMatchObject({ error: 'invalid_grant' });
    expect(await grant.find(grantId)).toBeUndefined();
    expect(await rt.find(tokenId)).toBeUndefined();
  });

  it('refuses to consume a record that no longer exists', async () => {
    await expect(adapterFor('AuthorizationCode').consume(id())).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('reports consumption in the payload', async () => {
    const code = adapterFor('AuthorizationCode');
    const codeId = id();
    await code.upsert(codeId, { kind: 'AuthorizationCode', grantId: await newGrant() }, 60);
    await code.consume(codeId);
    expect((await code.find(codeId))!.consumed).toBeGreaterThanOrEqual(now() - 1);
  });

  it('revokes by grant id only the records of its own model, and only of that grant', async () => {
    const grantId = await newGrant();
    const at = adapterFor('AccessToken');
    const rt = adapterFor('RefreshToken');
    const [a1, a2, r1, other] = [id(), id(), id(), id()];
    await at.upsert(a1, { kind: 'AccessToken', grantId }, 60);
    await at.upsert(a2, { kind: 'AccessToken', grantId }, 60);
    await rt.upsert(r1, { kind: 'RefreshToken', grantId }, 60);
    await at.upsert(other, { kind: 'AccessToken', grantId: await newGrant() }, 60);
    await at.revokeByGrantId(grantId);
    expect(await at.find(a1)).toBeUndefined();
    expect(await at.find(a2)).toBeUndefined();
    expect(await rt.find(r1)).toBeDefined();
    expect(await at.find(other)).toBeDefined();
    await rt.revokeByGrantId(grantId);
    expect(await rt.find(r1)).toBeUndefined();
  });

  it('finds a session by uid without storing the session id in clear, and cleans indices on destroy', async () => {
    const sessions = adapterFor('Session');
    const sessionId = id();
    const uid = id();
    await sessions.upsert(sessionId, { kind: 'Session', uid, accountId: 'sub-9', exp: now() + 600 }, 600);
    expect(await sessions.findByUid(uid)).toMatchObject({ jti: sessionId, uid, accountId: 'sub-9' });
    const raw = await redis.client.get(store.keys.record('Session', sessionId));
    expect(raw).not.toContain(sessionId);
    expect(await redis.client.zcard(store.keys.accountSessions('sub-9'))).toBe(1);
    await sessions.destroy(sessionId);
    expect(await sessions.find(sessionId)).toBeUndefined();
    expect(await sessions.findByUid(uid)).toBeUndefined();
    expect(await redis.client.exists(store.keys.sessionUid(uid))).toBe(0);
    expect(await redis.client.zcard(store.keys.accountSessions('sub-9'))).toBe(0);
  });

  it('indexes grants under their account and removes them on destroy', async () => {
    const grants = adapterFor('Grant');
    const grantId = id();
    await grants.upsert(grantId, { kind: 'Grant', accountId: 'sub-7', clientId: 'c' }, 600);
    expect(await redis.client.zrange(store.keys.accountGrants('sub-7'), '0', '-1')).toEqual([store.keys.grant(grantId)]);
    await grants.destroy(grantId);
    expect(await redis.client.zcard(store.keys.accountGrants('sub-7'))).toBe(0);
  });

  it('never re-saves a destroyed session: a late save of the same id is refused and the record stays a tombstone', async () => {
    const sessions = adapterFor('Session');
    const sessionId = id();
    const uid = id();
    const payload = { kind: 'Session', uid, accountId: 'sub-late', exp: now() + 600 };
    await sessions.upsert(sessionId, payload, 600);
    await sessions.destroy(sessionId);
    // oidc-provider's session middleware saving in its `finally`, after the logout.
    await sessions.upsert(sessionId, payload, 600);
    expect(await sessions.find(sessionId)).toBeUndefined();
    expect(await sessions.findByUid(uid)).toBeUndefined();
    expect(await redis.client.zcard(store.keys.accountSessions('sub-late'))).toBe(0);
    const pttl = await redis.client.pttl(store.keys.record('Session', sessionId));
    expect(pttl).toBeGreaterThan(500_000);
    expect(pttl).toBeLessThanOrEqual(615_000);
  });

  it('never re-saves a deleted grant, and tokens written under it later are born dead', async () => {
    const grants = adapterFor('Grant');
    const at = adapterFor('AccessToken');
    const grantId = await newGrant('sub-late-grant');
    await grants.destroy(grantId);
    await grants.upsert(grantId, { kind: 'Grant', accountId: 'sub-late-grant', clientId: 'c' }, 3600);
    expect(await grants.find(grantId)).toBeUndefined();
    const tokenId = id();
    await at.upsert(tokenId, { kind: 'AccessToken', accountId: 'sub-late-grant', grantId }, 60);
    expect(await at.find(tokenId)).toBeUndefined();
    expect(await redis.client.zcard(store.keys.accountGrants('sub-late-grant'))).toBe(0);
  });

  it('binds an Interaction to the account its login proved: a revocation after the login kills it', async () => {
    const interactions = adapterFor('Interaction');
    const uid = id();
    await interactions.upsert(uid, { kind: 'Interaction', params: { client_id: 'c' } }, 600);
    await interactions.upsert(uid, { kind: 'Interaction', params: { client_id: 'c' }, result: { login: { accountId: 'sub-login' } } }, 600);
    expect(await interactions.find(uid)).toBeDefined();
    await store.stampEpoch(store.keys.account('sub-login'), 'epoch');
    expect(await interactions.find(uid)).toBeUndefined();
  });

  it('reads a token whose grant record is missing as absent (born dead)', async () => {
    const at = adapterFor('AccessToken');
    const tokenId = id();
    await at.upsert(tokenId, { kind: 'AccessToken', grantId: id() }, 60);
    expect(await redis.client.exists(store.keys.record('AccessToken', tokenId))).toBe(1);
    expect(await at.find(tokenId)).toBeUndefined();
  });

  it('hides every record of an account born at or before its revocation epoch, and keeps later ones', async () => {
    const grants = adapterFor('Grant');
    const at = adapterFor('AccessToken');
    const before = await newGrant('sub-epoch');
    const oldToken = id();
    await at.upsert(oldToken, { kind: 'AccessToken', accountId: 'sub-epoch', grantId: before }, 60);
    await store.stampEpoch(store.keys.account('sub-epoch'), 'epoch');
    await new Promise((r) => setTimeout(r, 2)); // births are compared at millisecond precision
    const after = await newGrant('sub-epoch');
    const newToken = id();
    await at.upsert(newToken, { kind: 'AccessToken', accountId: 'sub-epoch', grantId: after }, 60);
    // A token minted later from the old grant (a refresh racing the revocation) is dead too.
    const raced = id();
    await at.upsert(raced, { kind: 'AccessToken', accountId: 'sub-epoch', grantId: before }, 60);
    expect(await grants.find(before)).toBeUndefined();
    expect(await at.find(oldToken)).toBeUndefined();
    expect(await at.find(raced)).toBeUndefined();
    expect(await grants.find(after)).toBeDefined();
    expect(await at.find(newToken)).toBeDefined();
  });

  it("kills a token held in another client's grant (token exchange) with that grant client's epochs as well as its own", async () => {
    const at = adapterFor('AccessToken');
    const fresh = async (sub: string) => {
      const grantId = id();
      await adapterFor('Grant').upsert(grantId, { kind: 'Grant', accountId: sub, clientId: 'parent-app' }, 3600);
      const tokenId = id();
      await at.upsert(tokenId, { kind: 'AccessToken', accountId: sub, clientId: 'gateway', grantId }, 60);
      expect(await at.find(tokenId)).toBeDefined();
      return tokenId;
    };
    // The parent's client revoked for every user, then for one user; the exchanging client for one user.
    const byParentClient = await fresh('sub-x1');
    await store.stampEpoch(store.keys.clientEpochs(), 'parent-app');
    expect(await at.find(byParentClient)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 2));
    const byParentForUser = await fresh('sub-x2');
    await store.stampEpoch(store.keys.account('sub-x2'), 'ce:parent-app');
    expect(await at.find(byParentForUser)).toBeUndefined();
    const byGatewayForUser = await fresh('sub-x3');
    await store.stampEpoch(store.keys.account('sub-x3'), 'ce:gateway');
    expect(await at.find(byGatewayForUser)).toBeUndefined();
    // Another user's token of the same clients, born after the client-wide epoch, lives.
    await new Promise((r) => setTimeout(r, 2));
    expect(await at.find(await fresh('sub-x4'))).toBeDefined();
  });

  it('stamps an epoch no earlier than the clock of any primary (births come from every primary)', async () => {
    const primaries = redis.client instanceof Cluster ? redis.client.nodes('master') : [redis.client as Redis];
    const clocks = await Promise.all(primaries.map((node) => node.time()));
    const latest = Math.max(...clocks.map(([s, us]) => Number(s) * 1000 + Math.floor(Number(us) / 1000)));
    expect(await store.stampEpoch(store.keys.account('sub-clock'), 'epoch')).toBeGreaterThanOrEqual(latest);
    expect(Number(await redis.client.hget(store.keys.account('sub-clock'), 'epoch'))).toBeGreaterThanOrEqual(latest);
  });

  describe('deaths reported to the hooks', () => {
    const deaths: Death[] = [];
    let reporting: ReturnType<typeof redisAdapterFactory>;
    beforeAll(() => {
      reporting = redisAdapterFactory(store, { died: async (death) => void deaths.push(death) });
    });
    beforeEach(() => void deaths.splice(0));

    it('reports a destroyed token with its owners and its value, and nothing for a token that was not there', async () => {
      const grantId = await newGrant('sub-d');
      const tokenId = id();
      await reporting('AccessToken').upsert(tokenId, { kind: 'AccessToken', accountId: 'sub-d', clientId: 'c', grantId }, 60);
      await reporting('AccessToken').destroy(tokenId);
      await reporting('AccessToken').destroy(id());
      expect(deaths).toEqual([{ kind: 'token', model: 'AccessToken', token: tokenId, grantId, accountId: 'sub-d', clientId: 'c' }]);
    });

    it('reports a grant whose tokens revokeByGrantId took, and nothing when it took none or the grant was gone', async () => {
      const grantId = await newGrant('sub-d');
      await reporting('RefreshToken').upsert(id(), { kind: 'RefreshToken', accountId: 'sub-d', clientId: 'c', grantId }, 60);
      await reporting('AccessToken').revokeByGrantId(grantId);
      await reporting('RefreshToken').revokeByGrantId(grantId);
      expect(deaths).toEqual([{ kind: 'grant', grantId, accountId: 'sub-d', clientId: 'c' }]);

      const gone = await newGrant('sub-d');
      await reporting('RefreshToken').upsert(id(), { kind: 'RefreshToken', accountId: 'sub-d', clientId: 'c', grantId: gone }, 60);
      await redis.client.del(store.keys.grant(gone));
      await reporting('RefreshToken').revokeByGrantId(gone);
      expect(deaths).toHaveLength(1);
    });

    it('reports a destroyed grant once, with its owners', async () => {
      const grantId = await newGrant('sub-d');
      await reporting('Grant').destroy(grantId);
      await reporting('Grant').destroy(grantId);
      expect(deaths).toEqual([{ kind: 'grant', grantId, accountId: 'sub-d', clientId: 'c' }]);
    });

    it('reports the grant the loser of a consume race revoked', async () => {
      const grantId = await newGrant('sub-d');
      const tokenId = id();
      await reporting('RefreshToken').upsert(tokenId, { kind: 'RefreshToken', accountId: 'sub-d', clientId: 'c', grantId }, 60);
      await reporting('RefreshToken').consume(tokenId);
      await expect(reporting('RefreshToken').consume(tokenId)).rejects.toMatchObject({ error: 'invalid_grant' });
      expect(deaths).toEqual([{ kind: 'grant', grantId, accountId: 'sub-d', clientId: 'c' }]);
    });
  });

  it('uses one hash tag for a grant and its token index (one Cluster slot)', () => {
    const tag = (key: string) => /\{([^}]*)\}/.exec(key)![1];
    expect(tag(store.keys.grant('g'))).toBe(tag(store.keys.grantMembers('g')));
    expect(tag(store.keys.accountGrants('a'))).toBe(tag(store.keys.accountSessions('a')));
    expect(tag(store.keys.accountGrants('a'))).toBe(tag(store.keys.account('a')));
  });
});
});
