import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { ClientRecord } from '../../adapters/redis/client-records.js';
import type { RedisKeys } from '../../adapters/redis/keys.js';
import type { ClientRegistry } from './client-registry.js';
import { currentPolicy } from './registration.js';

/** Metadata oidc-provider must never see stored: Latch keeps secrets as hashes beside the metadata. */
const SECRET_FIELDS = ['client_secret', 'client_secret_expires_at'];

/** Auth methods that authenticate with a shared secret. */
export function usesSecret(method: unknown): boolean {
  return method === undefined || method === 'client_secret_basic' || method === 'client_secret_post';
}

/**
 * What oidc-provider's `Client` is built from for a managed client: its stored metadata, and in
 * place of the secret (which Latch does not have) a stand-in that oidc-provider's schema needs for
 * a secret-based client (`Client.needsSecret`). The stand-in is a keyed hash of the stored hash:
 * unforgeable without LATCH_TOKEN_HASH_KEY, stable while the secret is (oidc-provider caches
 * clients by a hash of these properties), and never compared: every secret check goes through
 * ClientSecrets.verify (secret-hook.ts). No HMAC algorithm is enabled (configuration.ts), so it
 * never keys a signature either.
 */
export function providerMetadata(record: ClientRecord, keys: RedisKeys): AdapterPayload {
  const metadata: AdapterPayload = { ...record.metadata };
  if (record.secret) metadata.client_secret = standIn(record, keys);
  return metadata;
}

export function standIn(record: ClientRecord, keys: RedisKeys): string {
  return `latch-hashed.${keys.secretDigest('client-secret-stand-in', record.metadata.client_id, record.secret?.hash ?? '').toString('base64url')}`;
}

export interface ClientAdapterHooks {
  /** A registration (RFC 7591) stored a new client, or RFC 7592 changed one: audit and announce it (src/live/). */
  changed(clientId: string, created: boolean): Promise<void>;
  /** RFC 7592 delete: the one delete path (revokes what the client holds, removes it, audits, announces). */
  destroy(clientId: string): Promise<void>;
}

/**
 * oidc-provider's `Client` model on Latch's client records (adapters/redis/client-records.ts):
 * oidc-provider looks up every client id that is not in its static (config) list here, and stores
 * what dynamic registration (RFC 7591) and client management (RFC 7592) write. A secret it hands
 * over (one `secretFactory` generated, see registration.ts) is stored as its keyed hash only; the
 * stand-in it gets back on reads keeps the stored hash.
 */
export class ClientAdapter implements Adapter {
  readonly #registry: ClientRegistry;
  readonly #keys: RedisKeys;
  readonly #hooks: ClientAdapterHooks;

  constructor(registry: ClientRegistry, keys: RedisKeys, hooks: ClientAdapterHooks) {
    this.#registry = registry;
    this.#keys = keys;
    this.#hooks = hooks;
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const record = await this.#registry.record(id);
    return record ? providerMetadata(record, this.#keys) : undefined;
  }

  async upsert(id: string, payload: AdapterPayload): Promise<void> {
    const now = Date.now();
    const existing = await this.#registry.records.get(id);
    const metadata = { ...payload, client_id: id } as ClientRecord['metadata'];
    const presented = typeof payload.client_secret === 'string' ? payload.client_secret : undefined;
    for (const field of SECRET_FIELDS) delete metadata[field];
    let secret = existing?.secret;
    let previous = existing?.previous;
    if (!usesSecret(metadata.token_endpoint_auth_method)) {
      secret = undefined;
      previous = undefined;
    } else if (presented && (!existing || presented !== standIn(existing, this.#keys))) {
      // A secret oidc-provider generated (registration, or an update that made the client confidential).
      secret = this.#registry.secrets.stored(id, presented, now);
      previous = undefined;
    }
    const record: ClientRecord = {
      metadata,
      ...(secret ? { secret } : {}),
      ...(previous ? { previous } : {}),
      managed_by: existing?.managed_by ?? 'registration',
      ...(existing?.registration_policy || currentPolicy() ? { registration_policy: (currentPolicy() ?? existing?.registration_policy) as Record<string, unknown> } : {}),
      created_at: existing?.created_at ?? now,
      updated_at: now,
    };
    await this.#registry.records.put(record);
    await this.#hooks.changed(id, !existing);
  }

  async destroy(id: string): Promise<void> {
    await this.#hooks.destroy(id);
  }

  async consume(): Promise<void> {}
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async revokeByGrantId(): Promise<void> {}
}
