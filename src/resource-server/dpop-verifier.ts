import type { AuthInfo } from './auth-info.js';
import type { BearerRequest } from './bearer-token.js';
import { DpopNonces } from './dpop-nonce.js';
import type { ResolvedDpop } from './dpop-options.js';
import { verifyDpopProof, type ProofPolicy } from './dpop-proof.js';
import { MemoryReplayStore, RedisReplayStore, replayKey, type ReplayStore } from './dpop-replay.js';
import { BearerError, InvalidDpopProof, InvalidToken } from './errors.js';
import type { Logger } from './logger.js';

/** The result of a DPoP request that passed (the same shape as ResourceServer's Authenticated). */
interface Passed {
  auth: AuthInfo;
  headers: Record<string, string>;
}

/**
 * A DPoP request (RFC 9449 §7.1) at this resource server: the proof (dpop-proof.ts: signature,
 * htm, htu, iat or nonce, ath) and Latch's answer for the token (shared or cached like any
 * other), then the binding (the token's `cnf.jkt` is the proof's key), and last the proof's jti,
 * claimed once (memory or Redis): only a holder of a live bound token and its key can make us
 * remember anything.
 */
export class DpopVerifier {
  readonly #options: ResolvedDpop;
  readonly #policy: ProofPolicy;
  readonly #nonces: DpopNonces | undefined;
  readonly #replay: ReplayStore;
  readonly #logger: Logger;

  constructor(options: ResolvedDpop, audience: string, timeoutMs: number, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
    this.#nonces = options.nonceSecrets ? new DpopNonces(options.nonceSecrets, audience) : undefined;
    this.#policy = { algorithms: options.algorithms, maxAgeSeconds: options.maxAgeSeconds, clockSkewSeconds: options.clockSkewSeconds, nonces: this.#nonces };
    const { replay } = options;
    this.#replay = replay.kind === 'redis' ? new RedisReplayStore(replay.redisUrl, replay.keyPrefix, timeoutMs, logger) : new MemoryReplayStore(replay.maxEntries);
  }

  /** The URL a proof's htu must name: the configured public URL plus the path, or what the framework saw. */
  #url(request: BearerRequest): string {
    const { publicUrl } = this.#options;
    if (publicUrl !== undefined) {
      const path = request.url.startsWith('/') ? request.url : `/${request.url}`;
      return `${publicUrl}${path}`;
    }
    if (request.href === undefined) throw new TypeError('a DPoP request needs its absolute URL: pass href to authenticate(), or set dpop.publicUrl');
    return request.href;
  }

  async authenticate(request: BearerRequest, token: string, answer: (token: string) => Promise<AuthInfo>): Promise<Passed> {
    if (request.method === undefined) throw new TypeError('a DPoP request needs its method: pass method to authenticate()');
    const url = this.#url(request);
    // Latch is asked while the proof is checked (the answer is shared and may be cached anyway);
    // a bad proof is reported before anything Latch says.
    const answered = answer(token);
    answered.catch(() => {});
    const proof = await verifyDpopProof(request.dpop, { method: request.method, url, accessToken: token }, this.#policy);
    let auth: AuthInfo;
    try {
      auth = await answered;
    } catch (err) {
      // The error of an introspection shared with Bearer requests: answered in the DPoP challenge.
      throw err instanceof BearerError ? err.withScheme('DPoP') : err;
    }
    // RFC 9449 §7.1: the proof's key must be the one the token is bound to.
    if (auth.jkt === undefined) throw new InvalidToken('the access token is not bound to a DPoP key: send it with the Bearer scheme', 'ERR_TOKEN_NOT_BOUND', 'DPoP');
    if (auth.jkt !== proof.jkt) throw new InvalidToken('the DPoP proof is signed by another key than the one the access token is bound to', 'ERR_DPOP_KEY_MISMATCH', 'DPoP');
    let unique: boolean;
    try {
      unique = await this.#replay.claim(replayKey(proof.jkt, proof.jti), proof.replayTtlSeconds);
    } catch (err) {
      if (err instanceof BearerError) {
        this.#logger.warn({ reason: err.description, cause: (err.cause as Error | undefined)?.message }, 'DPoP replay check failed: answering 503');
      }
      throw err;
    }
    if (!unique) throw new InvalidDpopProof('the DPoP proof was already used (its jti is spent)', 'ERR_DPOP_PROOF_REPLAYED');
    // §9: a client whose nonce is aging gets the current one on a successful response too.
    const headers: Record<string, string> = this.#nonces && !this.#nonces.isCurrent(proof.nonce) ? { 'dpop-nonce': this.#nonces.current() } : {};
    return { auth, headers };
  }

  async close(): Promise<void> {
    await this.#replay.close();
  }
}
