import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Redis } from 'ioredis';

/**
 * A plain oidc-provider Redis adapter in the style of oidc-provider's own example
 * (example/adapters/redis.js): one JSON string per record under `${model}:${id}` (the raw token
 * value in the key), consumable models as a hash with a `consumed` field, and a list per grant for
 * revokeByGrantId. This is what a team gets deploying oidc-provider without Latch.
 */
const CONSUMABLE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

const grantKey = (id: string) => `grant:${id}`;
const userCodeKey = (userCode: string) => `userCode:${userCode}`;
const uidKey = (uid: string) => `uid:${uid}`;

export function plainRedisAdapter(redis: Redis) {
  return class PlainRedisAdapter implements Adapter {
    readonly model: string;

    constructor(model: string) {
      this.model = model;
    }

    key(id: string): string {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const key = this.key(id);
      const multi = redis.multi();
      if (CONSUMABLE.has(this.model)) multi.hset(key, { payload: JSON.stringify(payload) });
      else multi.set(key, JSON.stringify(payload));
      if (expiresIn) multi.expire(key, expiresIn);
      if (GRANTABLE.has(this.model) && payload.grantId) {
        const grant = grantKey(payload.grantId);
        multi.rpush(grant, key);
        const ttl = await redis.ttl(grant);
        if (expiresIn > ttl) multi.expire(grant, expiresIn);
      }
      if (payload.userCode) {
        multi.set(userCodeKey(payload.userCode), id);
        if (expiresIn) multi.expire(userCodeKey(payload.userCode), expiresIn);
      }
      if (payload.uid) {
        multi.set(uidKey(payload.uid), id);
        if (expiresIn) multi.expire(uidKey(payload.uid), expiresIn);
      }
      await multi.exec();
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (CONSUMABLE.has(this.model)) {
        const { payload, ...rest } = await redis.hgetall(this.key(id));
        if (!payload) return undefined;
        return { ...rest, ...(JSON.parse(payload) as AdapterPayload) };
      }
      const data = await redis.get(this.key(id));
      return data ? (JSON.parse(data) as AdapterPayload) : undefined;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const id = await redis.get(uidKey(uid));
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const id = await redis.get(userCodeKey(userCode));
      return id ? this.find(id) : undefined;
    }

    async destroy(id: string): Promise<void> {
      await redis.del(this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const multi = redis.multi();
      const tokens = await redis.lrange(grantKey(grantId), 0, -1);
      for (const token of tokens) multi.del(token);
      multi.del(grantKey(grantId));
      await multi.exec();
    }

    async consume(id: string): Promise<void> {
      await redis.hset(this.key(id), 'consumed', Math.floor(Date.now() / 1000));
    }
  };
}
