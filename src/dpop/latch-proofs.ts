import type { RedisStore } from '../../adapters/redis/redis-store.js';
import { verifyDpopProof, type ProofPolicy, type VerifiedProof } from '../resource-server/dpop-proof.js';
import { BearerError as ProofError } from '../resource-server/errors.js';
import { DPOP_ALGORITHMS } from './dpop-feature.js';

/** A DPoP proof Latch's own APIs refused: the description says which check (RFC 9449 §7.1). */
export class RefusedProof extends Error {
  constructor(readonly description: string) {
    super(description);
  }
}

/**
 * DPoP proofs presented to Latch's own resource server, the admin API: checked by the same
 * verifier latch/resource-server uses (the server imports the library, never the reverse), with
 * `htu` = the issuer's URL of the path (Latch's external address, not a Host header), `iat` within
 * 60 s (± Latch's 15 s clock tolerance), and the jti spent once in oidc-provider's ReplayDetection
 * key space (SET NX), shared by every instance and by /token's own proof checks.
 */
export class LatchProofs {
  readonly #store: RedisStore;
  readonly #issuer: string;
  readonly #policy: ProofPolicy = { algorithms: DPOP_ALGORITHMS, maxAgeSeconds: 60, clockSkewSeconds: 15 };

  constructor(store: RedisStore, issuer: string) {
    this.#store = store;
    this.#issuer = issuer;
  }

  get algorithms(): readonly string[] {
    return this.#policy.algorithms;
  }

  /** Checks the proof of a request to `path` (no query) for `token`. Throws RefusedProof. */
  async verify(header: readonly string[] | string | undefined, method: string, path: string, token: string): Promise<VerifiedProof> {
    try {
      return await verifyDpopProof(header, { method, url: `${this.#issuer}${path}`, accessToken: token }, this.#policy);
    } catch (err) {
      if (err instanceof ProofError) throw new RefusedProof(err.description);
      throw err;
    }
  }

  /** Spends the proof's jti for `clientId`: false when it was spent before (a replay). Redis errors propagate (503). */
  spend(clientId: string, proof: VerifiedProof): Promise<boolean> {
    const { keys } = this.#store;
    return this.#store.run(() =>
      this.#store.claimOnce(keys.replayDetection(clientId, proof.jti), proof.replayTtlSeconds * 1000, { iss: clientId, iat: proof.iat }),
    );
  }
}
