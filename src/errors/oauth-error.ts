/**
 * One class per OAuth error code (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7662, RFC 7009).
 *
 * The shape (`message` = the error code, `statusCode`, `expose`, `error_description`) is the one
 * oidc-provider's own error handler renders, so these can be thrown from inside the provider
 * (e.g. by the Redis adapter) as well as from Latch's own routes.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof'
  | 'unauthorized_client'
  | 'access_denied'
  | 'invalid_client_metadata'
  | 'invalid_redirect_uri'
  | 'server_error'
  | 'temporarily_unavailable';

export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly error_description: string;
  readonly status: number;
  readonly statusCode: number;
  /** Always true: the code and description are safe to show to the caller. */
  readonly expose = true;

  constructor(status: number, error: OAuthErrorCode, description: string, options?: ErrorOptions) {
    super(error, options);
    this.name = new.target.name;
    this.error = error;
    this.error_description = description;
    this.status = status;
    this.statusCode = status;
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.error_description };
  }
}

export class InvalidRequest extends OAuthError {
  constructor(description: string) {
    super(400, 'invalid_request', description);
  }
}

export class InvalidClient extends OAuthError {
  constructor(description = 'client authentication failed') {
    super(401, 'invalid_client', description);
  }
}

/** RFC 7591 §3.2.2: a client's metadata is refused (the admin API's client writes too). */
export class InvalidClientMetadata extends OAuthError {
  constructor(description: string) {
    super(400, 'invalid_client_metadata', description);
  }
}

/** RFC 7591 §3.2.2: a redirect URI is refused. */
export class InvalidRedirectUri extends OAuthError {
  constructor(description: string) {
    super(400, 'invalid_redirect_uri', description);
  }
}

export class AccessDenied extends OAuthError {
  constructor(description: string) {
    super(403, 'access_denied', description);
  }
}

/** A backing store (Redis) failed or timed out: fail closed, never answer from a guess. */
export class TemporarilyUnavailable extends OAuthError {
  constructor(description = 'the authorization server is temporarily unavailable, retry later', options?: ErrorOptions) {
    super(503, 'temporarily_unavailable', description, options);
  }
}
