import { errors } from 'oidc-provider';
import type { ClientConfig, LatchFileConfig } from '../config/schema.js';
import type { ResourceServers } from '../provider/resource-servers.js';

/**
 * What the policy reads of the client at hand: its `token_exchange` and `scope` metadata, from the
 * client oidc-provider resolved for the request (config or managed: src/clients/), so a client
 * changed at run time is judged by what it is now.
 */
export interface ExchangeClient {
  token_exchange?: ClientConfig['token_exchange'];
  scope?: string;
}

/** Where an exchanged token goes: an internal service that verifies JWTs, or an API that introspects. */
export type ExchangeTarget =
  | { kind: 'jwt'; audience: string; scopes: readonly string[]; claims: readonly string[]; ttlSeconds: number; alg: string }
  | { kind: 'opaque'; audience: string; scopes: readonly string[]; ttlSeconds: number };

/**
 * Who may exchange tokens for what (RFC 8693 §5: "the authorization server MUST perform the
 * appropriate validation procedures … and be able to determine whether the client is authorized"),
 * from the client's `token_exchange` (audiences, scope cap, with the client's own `scope`: the
 * client oidc-provider resolved for the request, config or managed), `tokenExchange.jwtAudiences`,
 * and the live resource-server table (an API registered, changed or removed at run time is a
 * target, changed or gone at the next request). Every refusal is the RFC's error.
 */
export class ExchangePolicy {
  readonly #targets = new Map<string, ExchangeTarget>();
  readonly #resourceServers: ResourceServers;

  /** `defaultAlg`: what JWTs are signed with when their audience names no `alg` (RS256, else the first key Latch has). */
  constructor(file: LatchFileConfig, defaultAlg: string | undefined, resourceServers: ResourceServers) {
    this.#resourceServers = resourceServers;
    for (const jwt of file.tokenExchange.jwtAudiences) {
      const alg = jwt.alg ?? defaultAlg;
      if (!alg) continue; // no signing key at all: app.ts refuses to start before this matters
      this.#targets.set(jwt.audience, { kind: 'jwt', audience: jwt.audience, scopes: jwt.scopes, claims: jwt.claims, ttlSeconds: jwt.ttlSeconds, alg });
    }
  }

  /** The target `audience` is for `client`, or `unauthorized_client` / `invalid_target` (RFC 8693 §2.2.2). */
  target(client: ExchangeClient, audience: string): ExchangeTarget {
    const policy = client.token_exchange;
    if (!policy) throw new errors.UnauthorizedClient('this client has no token exchange policy (clients[].token_exchange)');
    const target = this.#targets.get(audience) ?? this.#opaque(audience);
    if (!target || !policy.audiences.includes(audience)) {
      throw new errors.InvalidTarget(`this client may not exchange tokens for ${JSON.stringify(audience)}`);
    }
    return target;
  }

  /** An API that introspects (the live table): its tokens are opaque. */
  #opaque(audience: string): ExchangeTarget | undefined {
    const rs = this.#resourceServers.get(audience);
    return rs && { kind: 'opaque', audience: rs.audience, scopes: rs.scopes, ttlSeconds: rs.accessTokenTTL };
  }

  /**
   * The scopes `client` may obtain for `target` by exchange: the target's, within the client's
   * `token_exchange.scopes` and its `scope` when it has them (every restriction applies).
   */
  allowedScopes(client: ExchangeClient, target: ExchangeTarget): Set<string> {
    const caps = [client.token_exchange?.scopes, client.scope?.split(' ').filter(Boolean)].filter((cap): cap is string[] => cap !== undefined);
    return new Set(target.scopes.filter((scope) => caps.every((cap) => cap.includes(scope))));
  }
}
