import type { RedisStore } from './redis-store.js';

/** One secret of a managed client: its keyed hash (base64url, keys.secretDigest) and when it dies (ms, 0 = never). */
export interface StoredSecret {
  hash: string;
  issued_at: number;
  expires_at: number;
}

/** Who manages a stored client: the admin API (and CLI) or its own developer (RFC 7591/7592). */
export type ManagedBy = 'admin' | 'registration';

/** What Redis holds of a managed client (`keys.managedClient`). */
export interface ClientRecord {
  /** oidc-provider client metadata plus Latch's (resources, token_exchange, TTLs), without any secret. */
  metadata: Record<string, unknown> & { client_id: string };
  /** The current secret (secret-based auth methods only). */
  secret?: StoredSecret;
  /** The secret before the last rotation, alive until its `expires_at` (the grace period). */
  previous?: StoredSecret;
  managed_by: ManagedBy;
  /** Registered clients: the registration policy their updates (RFC 7592) stay within. */
  registration_policy?: Record<string, unknown>;
  created_at: number;
  updated_at: number;
}

/**
 * The managed clients' records (src/clients/ is their only user). Single-key commands only (a
 * record and the index are separate keys, slot-safe on a Cluster); every failure is a 503 through
 * `store.run`. The index is written after the record and removed after it, so a listing may name
 * a client whose record just went (skipped), never miss a live one for long.
 */
export class ClientRecords {
  readonly #store: RedisStore;

  constructor(store: RedisStore) {
    this.#store = store;
  }

  async get(clientId: string): Promise<ClientRecord | undefined> {
    const raw = await this.#store.run((redis) => redis.get(this.#store.keys.managedClient(clientId)));
    return raw ? (JSON.parse(raw) as ClientRecord) : undefined;
  }

  /** Writes the record; `create`: only if no record has this id (false when one has). */
  async put(record: ClientRecord, { create = false } = {}): Promise<boolean> {
    const { keys } = this.#store;
    const id = record.metadata.client_id;
    const value = JSON.stringify(record);
    return this.#store.run(async (redis) => {
      const written = create ? await redis.set(keys.managedClient(id), value, 'NX') : await redis.set(keys.managedClient(id), value);
      if (written === null) return false;
      await redis.sadd(keys.managedClients(), id);
      return true;
    });
  }

  /** Removes the record; true when there was one. */
  async delete(clientId: string): Promise<boolean> {
    const { keys } = this.#store;
    return this.#store.run(async (redis) => {
      const removed = await redis.del(keys.managedClient(clientId));
      await redis.srem(keys.managedClients(), clientId);
      return removed > 0;
    });
  }

  /** Every managed client's id, sorted. */
  async ids(): Promise<string[]> {
    const ids = await this.#store.run((redis) => redis.smembers(this.#store.keys.managedClients()));
    return ids.sort();
  }

  /** The records of `ids` (absent ones left out), in order. */
  async many(ids: readonly string[]): Promise<ClientRecord[]> {
    if (ids.length === 0) return [];
    const { keys } = this.#store;
    // One GET per key (a Cluster spreads them over slots); auto-pipelined by ioredis.
    const raws = await this.#store.run((redis) => Promise.all(ids.map((id) => redis.get(keys.managedClient(id)))));
    return raws.flatMap((raw) => (raw ? [JSON.parse(raw) as ClientRecord] : []));
  }
}
