import { errors } from 'oidc-provider';
import type { ClientConfig, LatchFileConfig } from '../config/schema.js';

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
 * from the client's `token_exchange` (audiences, scope cap, with the client's own `scope`), and the
 * targets built once from the config: `tokenExchange.jwtAudiences` and `resourceServers`. Every refusal is the RFC's error.
 */
export class ExchangePolicy {
  readonly #targets = new Map<string, ExchangeTarget>();

  /** `defaultAlg`: what JWTs are signed with when their audience names no `alg` (RS256, else the first key Latch has). */
  constructor(file: LatchFileConfig, defaultAlg: string | undefined) {
    for (const rs of file.resourceServers) {
      this.#targets.set(rs.audience, { kind: 'opaque', audience: rs.audience, scopes: rs.scopes, ttlSeconds: rs.accessTokenTTL });
    }
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
    const target = this.#targets.get(audience);
    if (!target || !policy.audiences.includes(audience)) {
      throw new errors.InvalidTarget(`this client may not exchange tokens for ${JSON.stringify(audience)}`);
    }
    return target;
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
