import type { IncomingMessage } from 'node:http';
import type { RateLimitsConfig } from '../config/schema.js';
import type { LatchMetrics } from '../http/metrics.js';
import { addressBucket, clientAddress } from './client-address.js';
import type { RateLimiter } from './rate-limiter.js';
import { TooManyRequests, type AddressOnlyEndpoint, type RateLimitedEndpoint, type RateLimitScope } from './too-many-requests.js';

export interface RateLimitsOptions {
  /** LATCH_TRUSTED_PROXIES: how the lean handlers find the caller's address (client-address.ts). */
  trustedProxies: number;
  metrics: LatchMetrics;
}

/**
 * Latch's rate-limit policy (docs/operations.md) over the shared-counter limiter: a budget per
 * window for each endpoint, per caller address and per authenticated client. Every method is
 * synchronous and costs a Map lookup — no Redis on any request's path.
 *
 * Per-client budgets count only requests whose client proved who it is, so nobody can spend a
 * victim's budget by naming it; requests that fail authentication count against their address.
 */
export class RateLimits {
  readonly limiter: RateLimiter;
  readonly #policy: RateLimitsConfig;
  readonly #trustedProxies: number;
  readonly #metrics: LatchMetrics;

  constructor(limiter: RateLimiter, policy: RateLimitsConfig, options: RateLimitsOptions) {
    this.limiter = limiter;
    this.#policy = policy;
    this.#trustedProxies = options.trustedProxies;
    this.#metrics = options.metrics;
  }

  /** The caller's address of a raw request, as Koa's `ctx.ip` gives it. */
  addressOf(req: IncomingMessage): string {
    return clientAddress(req, this.#trustedProxies);
  }

  /** Counts a request from `ip` (every request, whatever its outcome) or refuses it. */
  admitAddress(endpoint: RateLimitedEndpoint, ip: string): TooManyRequests | undefined {
    const limit = this.#policy[endpoint].perAddress;
    if (limit === 0) return undefined;
    // The login form fails closed when the limiter is full (each admitted attempt costs a scrypt
    // hash); elsewhere new addresses share an overflow budget.
    const whenFull = endpoint === 'login' ? 'refuse' : 'share';
    return this.#refuse(endpoint, 'address', this.limiter.take(`${endpoint}:address`, addressBucket(ip), limit, Date.now(), whenFull));
  }

  /** Refuses a request naming a client whose budget is spent, without counting it (not proven yet). */
  checkClient(endpoint: Exclude<RateLimitedEndpoint, AddressOnlyEndpoint>, clientId: string | undefined): TooManyRequests | undefined {
    const limit = this.#policy[endpoint].perClient;
    if (limit === 0 || clientId === undefined) return undefined;
    return this.#refuse(endpoint, 'client', this.limiter.refusal(`${endpoint}:client`, clientId, limit));
  }

  /** Counts a request of an authenticated client. */
  countClient(endpoint: Exclude<RateLimitedEndpoint, AddressOnlyEndpoint>, clientId: string): void {
    if (this.#policy[endpoint].perClient > 0) this.limiter.hit(`${endpoint}:client`, clientId);
  }

  /** Counts a request of an authenticated client, or refuses it when its budget is spent. */
  admitClient(endpoint: Exclude<RateLimitedEndpoint, AddressOnlyEndpoint>, clientId: string): TooManyRequests | undefined {
    const limit = this.#policy[endpoint].perClient;
    if (limit === 0) return undefined;
    return this.#refuse(endpoint, 'client', this.limiter.take(`${endpoint}:client`, clientId, limit));
  }

  #refuse(endpoint: RateLimitedEndpoint, scope: RateLimitScope, retryAfterSeconds: number): TooManyRequests | undefined {
    if (retryAfterSeconds === 0) return undefined;
    this.#metrics.rateLimited.inc({ endpoint, scope });
    return new TooManyRequests(endpoint, scope, retryAfterSeconds);
  }

  close(): void {
    this.limiter.close();
  }
}
