import type { AsymmetricSigningAlgorithm, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { DpopConfig } from '../config/schema.js';
import { DEFAULT_DPOP_ALGORITHMS } from '../resource-server/dpop-proof.js';

/**
 * The proof algorithms Latch accepts (discovery's `dpop_signing_alg_values_supported`): the same
 * list latch/resource-server accepts by default, so a client that works at /token works at the APIs.
 */
export const DPOP_ALGORITHMS = DEFAULT_DPOP_ALGORITHMS as AsymmetricSigningAlgorithm[];

type DpopFeature = NonNullable<NonNullable<Configuration['features']>['dPoP']>;

/**
 * oidc-provider's DPoP feature as Latch runs it (RFC 9449):
 * - access tokens (and public clients' refresh tokens, §5) are bound to the key of the proof that
 *   came with the token request; `dpop_bound_access_tokens` clients must send one (§5.2);
 * - nonces (§8) are derived from LATCH_DPOP_NONCE_SECRET over one-minute steps, so any instance
 *   accepts the nonce any other handed out; oidc-provider keeps one secret (no list), so a new
 *   secret refuses the old nonces once, each with `use_dpop_nonce` and a fresh one (docs/dpop.md);
 * - a nonce is required from public clients (nothing else vouches that a proof was made just now:
 *   §11.2, pre-generated proofs), or from every client with `dpop.requireNonce: "all"`; at /me,
 *   where the proof is checked before the token (and so its client) is known, always;
 * - a proof's jti is spent once (`allowReplay: false`) through oidc-provider's ReplayDetection
 *   model, whose adapter write is an atomic SET NX shared by every instance (adapters/redis).
 */
export function dpopFeature(nonceSecret: Buffer, config: DpopConfig): DpopFeature {
  return {
    enabled: true,
    nonceSecret,
    allowReplay: false,
    requireNonce(ctx: KoaContextWithOIDC): boolean {
      const client = ctx.oidc.client;
      if (!client) return true;
      return config.requireNonce === 'all' || client.clientAuthMethod === 'none';
    },
  };
}
