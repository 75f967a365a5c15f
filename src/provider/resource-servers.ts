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

/**
 * Lookups over the configured resource servers, built once at start-up: which API an audience is,
 * which of its APIs a client may get tokens for, and which APIs a client introspects for.
 */
export class ResourceServers {
  readonly #byAudience = new Map<string, ResourceServerConfig>();
  readonly #introspectedBy = new Map<string, Set<string>>();

  constructor(config: LatchFileConfig) {
    for (const rs of config.resourceServers) {
      this.#byAudience.set(rs.audience, rs);
      for (const clientId of rs.introspectors) {
        const set = this.#introspectedBy.get(clientId) ?? new Set<string>();
        set.add(rs.audience);
        this.#introspectedBy.set(clientId, set);
      }
    }
  }

  get(audience: string): ResourceServerConfig | undefined {
    return this.#byAudience.get(audience);
  }

  all(): ResourceServerConfig[] {
    return [...this.#byAudience.values()];
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
    return [...new Set(this.all().flatMap((rs) => rs.scopes))];
  }
}
