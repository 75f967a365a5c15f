/**
 * The errors a protected resource answers with (RFC 6750 §3.1), plus the fail-closed 503.
 *
 * Like jose: bad *options* are a `TypeError` at creation time; bad *requests* are a `BearerError`
 * subclass with a stable `code` to `switch` on, an HTTP `status`, and the RFC 6750 `error` code
 * (undefined when the request carried no credentials at all, §3.1 last paragraph).
 */
export type BearerErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'insufficient_user_authentication'
  | 'temporarily_unavailable'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce';

/** The authentication scheme a request used, and so the challenge its error carries (RFC 9449 §7.1). */
export type AuthScheme = 'Bearer' | 'DPoP';

export type BearerErrorReason =
  | 'ERR_TOKEN_MISSING'
  | 'ERR_REQUEST_MALFORMED'
  | 'ERR_TOKEN_IN_QUERY'
  | 'ERR_TOKEN_INACTIVE'
  | 'ERR_AUDIENCE_MISMATCH'
  | 'ERR_TOKEN_BOUND'
  | 'ERR_TOKEN_NOT_BOUND'
  | 'ERR_DPOP_PROOF_INVALID'
  | 'ERR_DPOP_PROOF_REPLAYED'
  | 'ERR_DPOP_KEY_MISMATCH'
  | 'ERR_DPOP_NONCE_REQUIRED'
  | 'ERR_INSUFFICIENT_SCOPE'
  | 'ERR_INSUFFICIENT_ROLE'
  | 'ERR_CLAIM_CHECK_FAILED'
  | 'ERR_INSUFFICIENT_USER_AUTHENTICATION'
  | 'ERR_INTROSPECTION_UNAVAILABLE'
  | 'ERR_REPLAY_STORE_UNAVAILABLE';

export class BearerError extends Error {
  readonly code: BearerErrorReason;
  readonly status: number;
  readonly error: BearerErrorCode | undefined;
  readonly description: string;
  /** The scopes that would satisfy the request (`insufficient_scope` only, RFC 6750 §3). */
  readonly scopes: readonly string[] | undefined;
  /** The scheme whose challenge carries the error: the one the request used (Bearer by default). */
  readonly scheme: AuthScheme;

  constructor(
    code: BearerErrorReason,
    status: number,
    error: BearerErrorCode | undefined,
    description: string,
    options?: ErrorOptions & { scopes?: readonly string[]; scheme?: AuthScheme },
  ) {
    super(description, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.error = error;
    this.description = description;
    this.scopes = options?.scopes;
    this.scheme = options?.scheme ?? 'Bearer';
  }

  /**
   * The same error for a request of another scheme. A copy, never a change: concurrent requests
   * with one token share one introspection, and so the error it ends with.
   */
  withScheme(scheme: AuthScheme): this {
    if (scheme === this.scheme) return this;
    const copy = Object.create(Object.getPrototypeOf(this) as object) as this;
    Object.defineProperties(copy, Object.getOwnPropertyDescriptors(this));
    Object.defineProperty(copy, 'scheme', { value: scheme, enumerable: true });
    return copy;
  }
}

/** §3.1: "If the request lacks any authentication information … SHOULD NOT include an error code". */
export class MissingToken extends BearerError {
  constructor() {
    super('ERR_TOKEN_MISSING', 401, undefined, 'a bearer access token is required');
  }
}

export class InvalidRequest extends BearerError {
  constructor(description: string, code: 'ERR_REQUEST_MALFORMED' | 'ERR_TOKEN_IN_QUERY' = 'ERR_REQUEST_MALFORMED', scheme?: AuthScheme) {
    super(code, 400, 'invalid_request', description, { scheme });
  }
}

export class InvalidToken extends BearerError {
  constructor(
    description: string,
    code: 'ERR_TOKEN_INACTIVE' | 'ERR_AUDIENCE_MISMATCH' | 'ERR_TOKEN_BOUND' | 'ERR_TOKEN_NOT_BOUND' | 'ERR_DPOP_KEY_MISMATCH' = 'ERR_TOKEN_INACTIVE',
    scheme?: AuthScheme,
  ) {
    super(code, 401, 'invalid_token', description, { scheme });
  }
}

/** RFC 9449 §7.1: the DPoP proof of a request is missing, malformed, or does not fit the request. */
export class InvalidDpopProof extends BearerError {
  constructor(description: string, code: 'ERR_DPOP_PROOF_INVALID' | 'ERR_DPOP_PROOF_REPLAYED' = 'ERR_DPOP_PROOF_INVALID', options?: ErrorOptions) {
    super(code, 401, 'invalid_dpop_proof', description, { ...options, scheme: 'DPoP' });
  }
}

/** RFC 9449 §9: the proof must carry this server's nonce; `nonce` goes out in the DPoP-Nonce header. */
export class UseDpopNonce extends BearerError {
  readonly nonce: string;

  constructor(description: string, nonce: string) {
    super('ERR_DPOP_NONCE_REQUIRED', 401, 'use_dpop_nonce', description, { scheme: 'DPoP' });
    this.nonce = nonce;
  }
}

export class InsufficientScope extends BearerError {
  constructor(
    description: string,
    scopes?: readonly string[],
    code: 'ERR_INSUFFICIENT_SCOPE' | 'ERR_INSUFFICIENT_ROLE' | 'ERR_CLAIM_CHECK_FAILED' = 'ERR_INSUFFICIENT_SCOPE',
  ) {
    super(code, 403, 'insufficient_scope', description, { scopes });
  }
}

/** The shared DPoP replay store (Redis) could not be asked: fail closed, like an introspection failure. */
export class ReplayStoreUnavailable extends BearerError {
  constructor(options?: ErrorOptions) {
    super('ERR_REPLAY_STORE_UNAVAILABLE', 503, 'temporarily_unavailable', 'the DPoP replay store could not be reached, retry later', options);
  }
}

/**
 * RFC 9470 §3: the token is valid, but the sign-in behind it is too old (`max_age`) or of another
 * level (`acr_values`): 401, so the client sends the user to sign in again with those parameters.
 */
export class InsufficientUserAuthentication extends BearerError {
  /** Seconds allowed since the user last actively authenticated (the `max_age` to ask Latch for). */
  readonly maxAge: number | undefined;
  /** Acceptable `acr` values, in order of preference (the `acr_values` to ask Latch for). */
  readonly acrValues: readonly string[] | undefined;

  constructor(description: string, requirements: { maxAge?: number; acrValues?: readonly string[] }) {
    super('ERR_INSUFFICIENT_USER_AUTHENTICATION', 401, 'insufficient_user_authentication', description);
    this.maxAge = requirements.maxAge;
    this.acrValues = requirements.acrValues;
  }
}

/** Latch could not be asked or answered with an error: fail closed, never let the request through. */
export class IntrospectionUnavailable extends BearerError {
  /** How long callers should wait: Latch's `Retry-After` when it sent one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(description = 'the authorization server could not be reached, retry later', options?: ErrorOptions & { retryAfterSeconds?: number | undefined }) {
    super('ERR_INTROSPECTION_UNAVAILABLE', 503, 'temporarily_unavailable', description, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}
