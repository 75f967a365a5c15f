import type { ApiStore, StoredApi } from '../../adapters/redis/api-store.js';
import type { LiveUpdates } from '../live/live-updates.js';
import type { Logger } from '../log/logger.js';
import type { ResourceServer, ResourceServers } from '../provider/resource-servers.js';

/** The table's view of a stored API. */
export function managedApi(api: StoredApi): ResourceServer {
  return { ...api, managedBy: 'admin' };
}

/**
 * Keeps the in-memory resource-server table (ResourceServers) in step with the APIs stored in
 * Redis, on every process of every instance: read at start, and again whenever live updates say
 * an API changed (`live.on('api')`: the one audience, or everything after a missed announcement).
 * Readers (introspection, token issuance, token exchange) never wait on Redis for the table.
 *
 * Reads run one at a time, in the order they were asked for: a read started after an announcement
 * sees the change, and an older read never lands after a newer one. A read that fails (Redis
 * down) keeps the table as it was and is tried again every `retryMs` until it succeeds.
 */
export class ApiTable {
  readonly #store: ApiStore;
  readonly #table: ResourceServers;
  readonly #logger: Logger;
  readonly #retryMs: number;
  readonly #managed = new Map<string, ResourceServer>();
  #queue: Promise<void> = Promise.resolve();
  /** A full read is queued and not yet started: single-audience reads queued meanwhile add nothing. */
  #fullPending = false;
  #retry: NodeJS.Timeout | undefined;
  readonly #loaded: Promise<void>;
  #markLoaded: () => void = () => {};
  #closed = false;

  constructor(store: ApiStore, table: ResourceServers, live: LiveUpdates, logger: Logger, options: { retryMs?: number } = {}) {
    this.#store = store;
    this.#table = table;
    this.#logger = logger;
    this.#retryMs = options.retryMs ?? 500;
    this.#loaded = new Promise((resolve) => (this.#markLoaded = resolve));
    live.on('api', (audience) => void this.refresh(audience));
    void this.refresh(undefined);
  }

  /** Resolves once every stored API has been read from Redis (Latch listens after it: main.ts). */
  ready(): Promise<void> {
    return this.#loaded;
  }

  /** Re-reads one API (`audience`) or all of them (undefined); resolves once the table has it (or the read failed). */
  refresh(audience: string | undefined): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (audience === undefined) {
      if (this.#fullPending) return this.#queue;
      this.#fullPending = true;
    } else if (this.#fullPending) {
      return this.#queue;
    }
    const run = async (): Promise<void> => {
      if (audience === undefined) this.#fullPending = false;
      try {
        if (audience === undefined) {
          const apis = await this.#store.list();
          this.#managed.clear();
          for (const api of apis) this.#managed.set(api.audience, managedApi(api));
        } else {
          const api = await this.#store.get(audience);
          if (api) this.#managed.set(audience, managedApi(api));
          else this.#managed.delete(audience);
        }
      } catch (err) {
        this.#failed(err as Error);
        return;
      }
      this.#table.replaceManaged(this.#managed.values());
      if (audience === undefined) this.#markLoaded();
    };
    this.#queue = this.#queue.then(run).catch((err: Error) => this.#logger.error({ err: err.message }, 'API table: applying a change failed'));
    return this.#queue;
  }

  /** Stops retrying (Latch stopping). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
  }

  #failed(err: Error): void {
    this.#logger.warn({ err: err.message }, 'API table: cannot read the registered APIs (the table stays as it was; trying again)');
    if (this.#retry || this.#closed) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.refresh(undefined);
    }, this.#retryMs);
    this.#retry.unref();
  }
}
