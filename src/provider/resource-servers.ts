import type { LatchFileConfig, ResourceServerConfig } from '../config/schema.js';

/**
 * What the lookups need of a client: the audiences it may get tokens for (its `resources`
 * metadata). Read from the client oidc-provider resolved for the request (a config client or a
 * managed one: src/clients/), never from a copy made at start-up, so a client changed at run time
 * is judged by what it is now.
 */
export interface ClientResources {
  resources?: readonly string[];
}

/** Where an API is defined: the config file (read-only at run time) or the admin API (stored in Redis). */
export type ApiSource = 'config' | 'admin';

/** A resource server as every reader sees it: the config's fields, where it comes from, and (managed ones) when it was stored. */
export interface ResourceServer extends ResourceServerConfig {
  managedBy: ApiSource;
  /** When it was registered (ms, Redis clock; managed APIs only): tokens for its audience issued before are not its. */
  createdAt?: number;
  updatedAt?: number;
  /** The stored revision (managed APIs only): an update names the one it read. */
  rev?: number;
}

/**
 * Lookups over the resource servers — the config's, and those registered at run time through the
 * admin API (src/apis/api-table.ts keeps them in step with Redis on every instance): which API an
 * audience is, which of its APIs a client may get tokens for, and which APIs a client introspects for.
 *
 * Every read is a Map read: introspection asks on every request, and a change replaces the maps as
 * a whole (never edited in place), so a reader never sees half of one.
 */
export class ResourceServers {
  #byAudience = new Map<string, ResourceServer>();
  #introspectedBy = new Map<string, Set<string>>();
  #scopes: string[] = [];
  readonly #configured = new Map<string, ResourceServer>();
  readonly #listeners: Array<() => void> = [];

  constructor(config: LatchFileConfig) {
    for (const rs of config.resourceServers) this.#configured.set(rs.audience, { ...rs, managedBy: 'config' });
    this.#rebuild([]);
  }

  /**
   * Replaces the APIs registered at run time (api-table.ts, after reading them from Redis). A
   * config API wins over a stored one of the same audience (the admin API never stores one; the
   * config may gain the audience later): the config file is the operator's last word.
   */
  replaceManaged(apis: Iterable<ResourceServer>): void {
    this.#rebuild([...apis].filter((api) => !this.#configured.has(api.audience)));
    for (const listener of this.#listeners) listener();
  }

  /** Called after every change of the table (provider-scopes.ts keeps oidc-provider's scope set in step). */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  #rebuild(managed: readonly ResourceServer[]): void {
    const byAudience = new Map(this.#configured);
    for (const api of managed) byAudience.set(api.audience, api);
    const introspectedBy = new Map<string, Set<string>>();
    for (const rs of byAudience.values()) {
      for (const clientId of rs.introspectors) {
        const set = introspectedBy.get(clientId) ?? new Set<string>();
        set.add(rs.audience);
        introspectedBy.set(clientId, set);
      }
    }
    this.#byAudience = byAudience;
    this.#introspectedBy = introspectedBy;
    this.#scopes = [...new Set([...byAudience.values()].flatMap((rs) => rs.scopes))];
  }

  get(audience: string): ResourceServer | undefined {
    return this.#byAudience.get(audience);
  }

  all(): ResourceServer[] {
    return [...this.#byAudience.values()];
  }

  /** The API of the config file with this audience (read-only at run time), if any. */
  configured(audience: string): ResourceServer | undefined {
    return this.#configured.get(audience);
  }

  /**
   * Whether a token with this `aud`, issued at `iat` (seconds), is a token of APIs Latch knows now:
   * an API removed at run time leaves its tokens without an audience (dead at introspection), and
   * one registered again under the same audience does not bring back the tokens of the earlier one
   * (they were issued before it was created; `toleranceSeconds` allows for instances' clock skew).
   */
  issuedFor(aud: string | string[] | undefined, iat: number | undefined, toleranceSeconds: number): boolean {
    if (aud === undefined) return true;
    for (const audience of Array.isArray(aud) ? aud : [aud]) {
      const rs = this.#byAudience.get(audience);
      if (!rs) return false;
      if (rs.createdAt !== undefined && iat !== undefined && (iat + toleranceSeconds) * 1000 < rs.createdAt) return false;
    }
    return true;
  }

  /**
   * A token's granted `scope` as far as its APIs have those scopes now: an API registered at run
   * time may lose a scope, and its tokens lose it from the next introspection on. (The config's
   * APIs never change while Latch runs: their tokens' scope is returned as it is.)
   */
  currentScope(aud: string | string[] | undefined, scope: string): string {
    if (aud === undefined || scope === '') return scope;
    const apis = (Array.isArray(aud) ? aud : [aud]).map((a) => this.#byAudience.get(a));
    if (!apis.some((rs) => rs?.managedBy === 'admin')) return scope;
    return scope.split(' ').filter((s) => apis.some((rs) => rs?.scopes.includes(s))).join(' ');
  }

  /** The audiences a client may obtain access tokens for. */
  allowedFor(client: ClientResources): readonly string[] {
    return (client.resources ?? []).filter((aud) => this.get(aud) !== undefined);
  }

  /**
   * The audience to use when a client names none: its first API that knows one of `scopes`. None
   * when no requested scope belongs to an API: the token is then for userinfo only, never for an
   * API the user was not asked about.
   */
  defaultFor(client: ClientResources, scopes: readonly string[]): string | undefined {
    return this.allowedFor(client).find((aud) => this.get(aud)?.scopes.some((s) => scopes.includes(s)));
  }

  /** The audiences whose tokens `clientId` may introspect as their resource server. */
  introspectableBy(clientId: string): ReadonlySet<string> {
    return this.#introspectedBy.get(clientId) ?? new Set();
  }

  /** Every API scope of every resource server. */
  scopes(): string[] {
    return this.#scopes;
  }
}
