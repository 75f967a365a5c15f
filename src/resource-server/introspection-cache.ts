import type { AuthInfo } from './auth-info.js';
import { revokes, type RevocationEvent } from './revocation-event.js';

interface Entry {
  auth: AuthInfo;
  expiresAt: number;
}

/**
 * Active introspection answers, keyed by the token's SHA-256 (base64url, the `token_sha256` of
 * revocation events), never by the token itself. Only active answers are kept: errors never,
 * inactive answers neither (random tokens would fill the cache for nothing).
 *
 * An entry lives min(maxTtlSeconds, the token's `exp`). While revocation events are not flowing
 * (`suspend()`: not yet subscribed, or the subscription dropped) the cache answers nothing and
 * keeps nothing, since a revocation could be missed; `resume()` starts again from empty.
 */
export class IntrospectionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxTtlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  #generation = 0;
  #live: boolean;

  constructor(options: { maxTtlSeconds: number; maxEntries: number; live: boolean; now?: () => number }) {
    this.#maxTtlMs = options.maxTtlSeconds * 1000;
    this.#maxEntries = options.maxEntries;
    this.#live = options.live;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Changes whenever entries may have been revoked; see set(). */
  get generation(): number {
    return this.#generation;
  }

  get(tokenHash: string): AuthInfo | undefined {
    if (!this.#live) return undefined;
    const entry = this.#entries.get(tokenHash);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(tokenHash);
      return undefined;
    }
    return entry.auth;
  }

  /**
   * Stores an answer obtained by an introspection that started at `generation`. If an event arrived
   * meanwhile, the answer may predate a revocation (Latch said "active", then revoked, and the event
   * overtook the response): it is not stored.
   */
  set(tokenHash: string, auth: AuthInfo, generation: number): void {
    if (!this.#live || generation !== this.#generation || auth.exp === undefined) return;
    const expiresAt = Math.min(this.#now() + this.#maxTtlMs, auth.exp * 1000);
    if (expiresAt <= this.#now()) return;
    this.#entries.delete(tokenHash);
    if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(tokenHash, { auth, expiresAt });
  }

  apply(event: RevocationEvent | 'unknown'): number {
    this.#generation++;
    let dropped = 0;
    for (const [hash, entry] of this.#entries) {
      if (revokes(event, hash, entry.auth)) {
        this.#entries.delete(hash);
        dropped++;
      }
    }
    return dropped;
  }

  clear(): void {
    this.#generation++;
    this.#entries.clear();
  }

  suspend(): void {
    this.#live = false;
    this.clear();
  }

  resume(): void {
    this.clear();
    this.#live = true;
  }

  get live(): boolean {
    return this.#live;
  }
}
