import { OAuthError } from '../errors/oauth-error.js';

export type RateLimitedEndpoint = 'introspection' | 'token' | 'revocation' | 'login' | 'authorization' | 'endSession' | 'registration' | 'admin';
/** Endpoints of browsers, limited per address only (no client is proven there). */
export type AddressOnlyEndpoint = 'login' | 'authorization' | 'endSession' | 'registration';
export type RateLimitScope = 'client' | 'address';

/**
 * A request over its budget: 429 (RFC 6585 §4) with `Retry-After` and no-store. OAuth has no error
 * code for it; the body says `temporarily_unavailable`, the RFC 6749 code for "temporary
 * overloading", which client libraries and Latch's resource-server middleware already treat as
 * "retry later", rather than a code of our own that no client knows.
 */
export class TooManyRequests extends OAuthError {
  readonly endpoint: RateLimitedEndpoint;
  readonly scope: RateLimitScope;
  readonly retryAfterSeconds: number;

  constructor(endpoint: RateLimitedEndpoint, scope: RateLimitScope, retryAfterSeconds: number) {
    const who = scope === 'client' ? 'for this client' : 'from this address';
    super(429, 'temporarily_unavailable', `too many requests ${who}, retry after ${retryAfterSeconds} s`);
    this.endpoint = endpoint;
    this.scope = scope;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  headers(): Record<string, string> {
    return { 'retry-after': String(this.retryAfterSeconds), 'cache-control': 'no-store' };
  }
}
