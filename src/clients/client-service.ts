import { randomBytes } from 'node:crypto';
import type { ClientRecord } from '../../adapters/redis/client-records.js';
import type { ClientConfig } from '../config/schema.js';
import type { LiveUpdates } from '../live/live-updates.js';
import type { RevocationResult, Revocations } from '../revocation/revocations.js';
import { usesSecret } from './client-adapter.js';
import type { ClientRegistry } from './client-registry.js';
import { generateSecret } from './client-secrets.js';
import { checkManagedClient, inputOf, parseClient, providerShape, type RuleContext } from './client-rules.js';

/** Refusals the admin API renders itself (404, 409). */
export class ClientNotFound extends Error {}
export class ClientConflict extends Error {}

/** The longest a rotated-out secret may keep working (seconds). */
export const MAX_GRACE_SECONDS = 30 * 86_400;

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : Math.floor(ms / 1000));

/** A client as the admin API shows it (docs/clients.md): its metadata and its secrets' dates, never a secret. */
export interface ClientView {
  client_id: string;
  managed_by: 'config' | 'admin' | 'registration';
  [field: string]: unknown;
}

export function viewOfConfig(client: ClientConfig): ClientView {
  const { client_secret: _secret, ...rest } = client;
  return { ...rest, managed_by: 'config' };
}

export function viewOfRecord(record: ClientRecord): ClientView {
  const { response_types: _r, client_id_issued_at: _i, ...metadata } = record.metadata;
  return {
    ...metadata,
    client_id: record.metadata.client_id,
    managed_by: record.managed_by,
    created_at: seconds(record.created_at),
    updated_at: seconds(record.updated_at),
    ...(record.secret ? { client_secret_issued_at: seconds(record.secret.issued_at), client_secret_expires_at: seconds(record.secret.expires_at) } : {}),
    ...(record.previous ? { previous_secret_expires_at: seconds(record.previous.expires_at) } : {}),
  };
}

export interface ClientServiceDeps extends RuleContext {
  registry: ClientRegistry;
  revocations: Revocations;
  live: LiveUpdates;
}

export interface Written {
  client: ClientView;
  /** The new secret, shown once (creation, rotation, an update to a secret-based method). */
  client_secret?: string;
}

/**
 * Managed clients' lifecycle: create, update, rotate the secret, delete. Config clients are
 * read-only here (ClientConflict): the config file is their source. Every write is stored, then
 * announced to every instance (src/live/) before it returns, so the caller's next request anywhere
 * sees it within a second. Auditing is the caller's (the admin routes, registration.ts).
 */
export class ClientService {
  readonly #deps: ClientServiceDeps;

  constructor(deps: ClientServiceDeps) {
    this.#deps = deps;
  }

  get registry(): ClientRegistry {
    return this.#deps.registry;
  }

  #readOnly(clientId: string): void {
    if (this.#deps.registry.configClient(clientId) || clientId === 'latch-account') {
      throw new ClientConflict(`client "${clientId}" is managed by the config file (read-only in the admin API): change it there and restart`);
    }
  }

  async #record(clientId: string): Promise<ClientRecord> {
    this.#readOnly(clientId);
    const record = await this.#deps.registry.records.get(clientId);
    if (!record) throw new ClientNotFound(`no client "${clientId}"`);
    return record;
  }

  async list(): Promise<ClientView[]> {
    const { registry } = this.#deps;
    const managed = await registry.records.many(await registry.records.ids());
    return [...registry.configClients().map(viewOfConfig), ...managed.map(viewOfRecord)].sort((a, b) => a.client_id.localeCompare(b.client_id));
  }

  async show(clientId: string): Promise<ClientView> {
    const config = this.#deps.registry.configClient(clientId);
    if (config) return viewOfConfig(config);
    const record = await this.#deps.registry.records.get(clientId);
    if (!record) throw new ClientNotFound(`no client "${clientId}"`);
    return viewOfRecord(record);
  }

  /** Creates a managed client (`clientId` undefined: Latch picks one). */
  async create(clientId: string | undefined, body: unknown, managedBy: ClientRecord['managed_by'] = 'admin'): Promise<Written> {
    const id = clientId ?? randomBytes(16).toString('base64url');
    this.#readOnly(id);
    const input = parseClient(body);
    await checkManagedClient(id, input, this.#deps);
    const now = Date.now();
    const secret = usesSecret(input.token_endpoint_auth_method) ? generateSecret() : undefined;
    const record: ClientRecord = {
      metadata: { ...providerShape({ ...input, client_id: id }), client_id_issued_at: Math.floor(now / 1000) },
      ...(secret ? { secret: this.#deps.registry.secrets.stored(id, secret, now) } : {}),
      managed_by: managedBy,
      created_at: now,
      updated_at: now,
    };
    if (!(await this.#deps.registry.records.put(record, { create: true }))) throw new ClientConflict(`client "${id}" exists already`);
    await this.#deps.live.publish('client', id);
    return { client: viewOfRecord(record), ...(secret ? { client_secret: secret } : {}) };
  }

  /** Changes fields of a managed client (`null` removes an optional one); the whole is checked again. */
  async update(clientId: string, changes: Record<string, unknown>): Promise<Written & { changed: string[] }> {
    const record = await this.#record(clientId);
    const merged = { ...inputOf(record.metadata), ...changes };
    for (const [field, value] of Object.entries(changes)) if (value === null) delete merged[field];
    const input = parseClient(merged);
    await checkManagedClient(clientId, input, this.#deps);
    const now = Date.now();
    const metadata: ClientRecord['metadata'] = { ...providerShape({ ...input, client_id: clientId }), client_id_issued_at: record.metadata.client_id_issued_at };
    const changed = Object.keys(changes).filter((field) => JSON.stringify(record.metadata[field]) !== JSON.stringify(metadata[field]));
    // A client that becomes secret-based gets a secret (shown once); one that stops being loses its secrets.
    const secret = usesSecret(input.token_endpoint_auth_method) && !record.secret ? generateSecret() : undefined;
    const next: ClientRecord = {
      ...record,
      metadata,
      updated_at: now,
      ...(secret ? { secret: this.#deps.registry.secrets.stored(clientId, secret, now) } : {}),
    };
    if (!usesSecret(input.token_endpoint_auth_method)) {
      delete next.secret;
      delete next.previous;
    }
    await this.#deps.registry.records.put(next);
    await this.#deps.live.publish('client', clientId);
    return { client: viewOfRecord(next), changed, ...(secret ? { client_secret: secret } : {}) };
  }

  /**
   * A new secret (shown once); the current one keeps working for `graceSeconds` (0: it dies now),
   * then matches nothing, at /token, /revoke and /introspect alike (ClientSecrets.verify). A secret
   * still in its grace from an earlier rotation dies now: at most two secrets live at once.
   */
  async rotateSecret(clientId: string, graceSeconds: number): Promise<Written> {
    const record = await this.#record(clientId);
    if (!record.secret) throw new ClientConflict(`client "${clientId}" has no secret (token_endpoint_auth_method ${String(record.metadata.token_endpoint_auth_method)})`);
    const now = Date.now();
    const secret = generateSecret();
    const previous = graceSeconds > 0 ? { ...record.secret, expires_at: record.secret.expires_at === 0 ? now + graceSeconds * 1000 : Math.min(record.secret.expires_at, now + graceSeconds * 1000) } : undefined;
    const next: ClientRecord = { ...record, secret: this.#deps.registry.secrets.stored(clientId, secret, now), updated_at: now };
    if (previous) next.previous = previous;
    else delete next.previous;
    await this.#deps.registry.records.put(next);
    await this.#deps.live.publish('client', clientId);
    return { client: viewOfRecord(next), client_secret: secret };
  }

  /**
   * Deletes a managed client: first everything it holds is revoked through the one revoke-client
   * path (its epoch: every token and grant dead on the next call, everywhere; the cleanup job and
   * back-channel logouts follow), then its record goes and every instance is told.
   */
  async delete(clientId: string, by: { actor: string; reason: string }): Promise<RevocationResult> {
    await this.#record(clientId);
    const result = await this.#deps.revocations.revokeClient(clientId, by);
    await this.#deps.registry.records.delete(clientId);
    await this.#deps.live.publish('client', clientId);
    return result;
  }
}
