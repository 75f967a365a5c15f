import type { Result } from 'ioredis';
import { CREATE_API, DELETE_API, UPDATE_API } from './api-scripts.js';
import type { RedisStore } from './redis-store.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    latchCreateApi(api: string, index: string, ...args: string[]): Result<string, Context>;
    latchUpdateApi(api: string, ...args: string[]): Result<string, Context>;
    latchDeleteApi(api: string, index: string, audience: string): Result<number, Context>;
  }
}

/** The fields of a resource server an admin sets (the config's `resourceServers[]` entry). */
export interface ApiFields {
  audience: string;
  name: string;
  scopes: string[];
  claims: string[];
  introspectors: string[];
  accessTokenTTL: number;
}

/** A resource server registered at run time, as stored. */
export interface StoredApi extends ApiFields {
  createdAt: number;
  updatedAt: number;
  rev: number;
}

export type ApiUpdate = { status: 'updated'; api: StoredApi } | { status: 'missing' } | { status: 'changed' };

/**
 * Resource servers registered at run time, in Redis (key layout: keys.ts `api`, `apiIndex`). Only
 * the API table (src/apis/) and the admin API's routes use it; every other reader asks the
 * in-memory table (src/provider/resource-servers.ts). Every failure is a 503 (RedisStore.run).
 */
export class ApiStore {
  readonly #store: RedisStore;

  constructor(store: RedisStore) {
    this.#store = store;
    store.redis.defineCommand('latchCreateApi', { numberOfKeys: 2, lua: CREATE_API });
    store.redis.defineCommand('latchUpdateApi', { numberOfKeys: 1, lua: UPDATE_API });
    store.redis.defineCommand('latchDeleteApi', { numberOfKeys: 2, lua: DELETE_API });
  }

  /** Every registered API (an index entry whose hash is gone is skipped). */
  async list(): Promise<StoredApi[]> {
    const { keys } = this.#store;
    return this.#store.run(async (redis) => {
      const audiences = await redis.smembers(keys.apiIndex());
      const hashes = await Promise.all(audiences.map((audience) => redis.hgetall(keys.api(audience))));
      return hashes.flatMap((hash) => decode(hash) ?? []).sort((a, b) => a.audience.localeCompare(b.audience));
    });
  }

  async get(audience: string): Promise<StoredApi | undefined> {
    return this.#store.run(async (redis) => decode(await redis.hgetall(this.#store.keys.api(audience))));
  }

  /** Registers an API; undefined when its audience is registered already. */
  async create(api: ApiFields): Promise<StoredApi | undefined> {
    const { keys } = this.#store;
    const created = await this.#store.run((redis) => redis.latchCreateApi(keys.api(api.audience), keys.apiIndex(), api.audience, ...encode(api)));
    if (!created) return undefined;
    return { ...api, createdAt: Number(created), updatedAt: Number(created), rev: 1 };
  }

  /** Replaces an API's fields, if it is still at revision `rev` (what the caller read). */
  async update(rev: number, api: ApiFields & { createdAt: number }): Promise<ApiUpdate> {
    const reply = await this.#store.run((redis) => redis.latchUpdateApi(this.#store.keys.api(api.audience), String(rev), ...encode(api)));
    if (reply === 'missing' || reply === 'changed') return { status: reply };
    const { createdAt, ...fields } = api;
    return { status: 'updated', api: { ...fields, createdAt, updatedAt: Number(reply), rev: rev + 1 } };
  }

  /** Removes an API; false when it was not registered. */
  async delete(audience: string): Promise<boolean> {
    const { keys } = this.#store;
    return (await this.#store.run((redis) => redis.latchDeleteApi(keys.api(audience), keys.apiIndex(), audience))) === 1;
  }
}

function encode(api: ApiFields): string[] {
  return [api.name, JSON.stringify(api.scopes), JSON.stringify(api.claims), JSON.stringify(api.introspectors), String(api.accessTokenTTL)];
}

function decode(hash: Record<string, string>): StoredApi | undefined {
  if (!hash.audience || !hash.rev) return undefined;
  const list = (text: string | undefined): string[] => {
    const value: unknown = JSON.parse(text ?? '[]');
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  };
  return {
    audience: hash.audience,
    name: hash.name ?? hash.audience,
    scopes: list(hash.scopes),
    claims: list(hash.claims),
    introspectors: list(hash.introspectors),
    accessTokenTTL: Number(hash.ttl),
    createdAt: Number(hash.created),
    updatedAt: Number(hash.updated),
    rev: Number(hash.rev),
  };
}
