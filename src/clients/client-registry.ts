import type { ClientRecord, ClientRecords } from '../../adapters/redis/client-records.js';
import type { ClientConfig } from '../config/schema.js';
import { ClientSecrets, type SecretCredential, type SecretMatch } from './client-secrets.js';

/** Who manages a client: the config file (read-only at run time), the admin API, or its own developer (RFC 7592). */
export type ClientOwner = 'config' | 'admin' | 'registration';

/** What Latch's own code needs of any client, config or managed. */
export interface KnownClient {
  clientId: string;
  managedBy: ClientOwner;
  method: ClientConfig['token_endpoint_auth_method'];
  credential: SecretCredential;
  jwks?: { keys: Array<Record<string, unknown>> };
  introspectionAlg?: string;
  redirectUris: readonly string[];
  postLogoutRedirectUris: readonly string[];
  /** The stored record (managed clients only). */
  record?: ClientRecord;
}

/** Bound on the managed clients (and unknown ids) remembered per process; past it the memory starts over. */
const MAX_CACHED = 10_000;
/** A remembered client is read again after this long even without an announcement (ms): belt and braces behind src/live/. */
const MAX_AGE_MS = 60_000;

function fromConfig(client: ClientConfig, secrets: ClientSecrets): KnownClient {
  return {
    clientId: client.client_id,
    managedBy: 'config',
    method: client.token_endpoint_auth_method,
    // Config secrets stay as the config says (docs/clients.md); only their hash is kept in memory.
    credential: client.client_secret ? { current: { hash: secrets.hash(client.client_id, client.client_secret), expiresAt: 0 } } : {},
    ...(client.jwks ? { jwks: client.jwks } : {}),
    ...(client.introspection_signed_response_alg ? { introspectionAlg: client.introspection_signed_response_alg } : {}),
    redirectUris: client.redirect_uris,
    postLogoutRedirectUris: client.post_logout_redirect_uris,
  };
}

export function fromRecord(record: ClientRecord): KnownClient {
  const m = record.metadata as Record<string, unknown>;
  return {
    clientId: record.metadata.client_id,
    managedBy: record.managed_by,
    method: (m.token_endpoint_auth_method as KnownClient['method']) ?? 'client_secret_basic',
    credential: ClientSecrets.credential(record.secret, record.previous),
    ...(m.jwks ? { jwks: m.jwks as KnownClient['jwks'] } : {}),
    ...(typeof m.introspection_signed_response_alg === 'string' ? { introspectionAlg: m.introspection_signed_response_alg } : {}),
    redirectUris: (m.redirect_uris as string[] | undefined) ?? [],
    postLogoutRedirectUris: (m.post_logout_redirect_uris as string[] | undefined) ?? [],
    record,
  };
}

/**
 * Every client Latch knows, config or managed, for Latch's own code (client authentication at
 * `/introspect`, the secret check at `/token` and `/revoke`, the admin API, the CSP). Config
 * clients are held from start-up; managed ones are read from Redis on first use and remembered,
 * until an announcement (src/live/: `live.on('client', …)` calls `drop`) says they changed, on any
 * instance. Unknown ids are remembered too (bounded), so a caller cannot make every request a Redis
 * read by naming clients that do not exist.
 */
export class ClientRegistry {
  readonly secrets: ClientSecrets;
  readonly records: ClientRecords;
  readonly #config = new Map<string, KnownClient>();
  readonly #configClients = new Map<string, ClientConfig>();
  readonly #cache = new Map<string, { client: KnownClient | undefined; at: number }>();
  readonly #loading = new Map<string, Promise<KnownClient | undefined>>();
  readonly #listeners: Array<(id: string | undefined) => void> = [];
  /** Bumped by every drop: a read that started before it is not remembered (it may be stale). */
  #generation = 0;
  #origins: string[] = [];
  #configOrigins: string[];

  constructor(configClients: readonly ClientConfig[], records: ClientRecords, secrets: ClientSecrets) {
    this.records = records;
    this.secrets = secrets;
    for (const client of configClients) {
      this.#config.set(client.client_id, fromConfig(client, secrets));
      this.#configClients.set(client.client_id, client);
    }
    this.#configOrigins = originsOf([...this.#config.values()]);
    this.#origins = this.#configOrigins;
  }

  /** The config file's client with this id (read-only at run time). */
  configClient(clientId: string): ClientConfig | undefined {
    return this.#configClients.get(clientId);
  }

  configClients(): ClientConfig[] {
    return [...this.#configClients.values()];
  }

  /** The client, if it exists now and is remembered in this process (no Redis read): the hot path's first try. */
  peek(clientId: string): KnownClient | undefined {
    const config = this.#config.get(clientId);
    if (config) return config;
    const cached = this.#cache.get(clientId);
    return cached && Date.now() - cached.at < MAX_AGE_MS ? cached.client : undefined;
  }

  /** The client, config or managed; undefined for an unknown id. A Redis failure rejects (503). */
  async find(clientId: string): Promise<KnownClient | undefined> {
    const config = this.#config.get(clientId);
    if (config) return config;
    const cached = this.#cache.get(clientId);
    if (cached && Date.now() - cached.at < MAX_AGE_MS) return cached.client;
    const loading = this.#loading.get(clientId);
    if (loading) return loading;
    const generation = this.#generation;
    const read = this.records.get(clientId).then(
      (record) => {
        const client = record ? fromRecord(record) : undefined;
        if (generation === this.#generation) {
          if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
          this.#cache.set(clientId, { client, at: Date.now() });
        }
        return client;
      },
    ).finally(() => this.#loading.delete(clientId));
    this.#loading.set(clientId, read);
    return read;
  }

  /** The managed record (undefined for config and unknown clients). */
  async record(clientId: string): Promise<ClientRecord | undefined> {
    if (this.#config.has(clientId)) return undefined;
    return (await this.find(clientId))?.record;
  }

  /** The one secret check (ClientSecrets.verify) for a client id: undefined when unknown, secret-less or not matching. */
  async verifySecret(clientId: string, secret: string): Promise<SecretMatch | undefined> {
    const client = await this.find(clientId);
    if (!client) {
      // Same work as a known client: an unknown id is not told apart by the time taken.
      this.secrets.hash(clientId, secret);
      return undefined;
    }
    return this.secrets.verify(clientId, client.credential, secret);
  }

  /** Forgets `clientId` (undefined: every managed client), then tells the listeners. Called on every live announcement. */
  drop(clientId: string | undefined): void {
    this.#generation++;
    if (clientId === undefined) this.#cache.clear();
    else this.#cache.delete(clientId);
    for (const listener of this.#listeners) listener(clientId);
  }

  /** Called after every drop (the authenticator's verified-credentials cache, the CSP origins). */
  onDrop(listener: (id: string | undefined) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * The origins of every client's redirect and post-logout redirect URIs: where a form post on
   * Latch's pages may end up (CSP `form-action`). Kept in memory; `refreshOrigins` re-reads them.
   */
  origins(): readonly string[] {
    return this.#origins;
  }

  /** Reads every managed client's origins again (after an announcement); a Redis failure keeps the ones known. */
  async refreshOrigins(): Promise<void> {
    const records = await this.records.many(await this.records.ids());
    this.#origins = [...new Set([...this.#configOrigins, ...originsOf(records.map(fromRecord))])];
  }
}

function originsOf(clients: readonly KnownClient[]): string[] {
  const origins = new Set<string>();
  for (const client of clients) {
    for (const uri of [...client.redirectUris, ...client.postLogoutRedirectUris]) {
      const origin = URL.canParse(uri) ? new URL(uri).origin : 'null';
      // A custom scheme (a native app's) has no origin a CSP can name.
      if (origin !== 'null') origins.add(origin);
    }
  }
  return [...origins];
}
