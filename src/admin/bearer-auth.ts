import type { Context } from 'koa';
import { OAuthError } from '../errors/oauth-error.js';
import type { Introspector } from '../introspection/introspect.js';

export const ADMIN_AUDIENCE = 'urn:latch:admin';
export const REALM = 'latch-admin';

/** RFC 6750 §3 errors of a protected resource, with their `WWW-Authenticate` challenge. */
export class BearerError extends OAuthError {
  readonly challenge: string;

  constructor(status: 400 | 401 | 403, error: 'invalid_request' | 'invalid_token' | 'insufficient_scope' | undefined, description: string, scope?: string) {
    super(status, error ?? 'invalid_request', description);
    const parts = [`realm="${REALM}"`];
    if (error) parts.push(`error="${error}"`, `error_description="${description}"`);
    if (scope) parts.push(`scope="${scope}"`);
    this.challenge = `Bearer ${parts.join(', ')}`;
  }
}

export interface AdminCaller {
  clientId: string;
  scopes: Set<string>;
}

/**
 * The admin API is a resource server of Latch itself: the caller presents an access token from the
 * client-credentials grant for audience `urn:latch:admin`, checked by the same introspection
 * every other API uses, so revoking an admin client cuts it off on its next call.
 */
export async function authenticateAdmin(ctx: Context, introspector: Introspector, requiredScope: string): Promise<AdminCaller> {
  const header = ctx.get('authorization');
  if (ctx.query.access_token !== undefined) {
    throw new BearerError(400, 'invalid_request', 'access tokens are not accepted in the query string');
  }
  if (!header) throw new BearerError(401, undefined, 'an access token is required');
  // RFC 6750 §2.1 credentials; the scheme name is case-insensitive (RFC 7235 §2.1).
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (!match) throw new BearerError(400, 'invalid_request', 'malformed Authorization header');
  const result = await introspector.introspectForAudience(ADMIN_AUDIENCE, match[1]!);
  if (!result.active) throw new BearerError(401, 'invalid_token', 'the access token is not active');
  // RFC 9449 §7.2: a DPoP-bound access token received as a bearer token MUST be rejected (the admin
  // API speaks only Bearer until DPoP is supported end to end).
  const cnf = result.cnf as { jkt?: unknown } | undefined;
  if (cnf?.jkt !== undefined || result.token_type === 'DPoP') {
    throw new BearerError(401, 'invalid_token', 'the access token is bound to a DPoP key: it cannot be used as a bearer token');
  }
  const scopes = new Set(String(result.scope ?? '').split(' ').filter(Boolean));
  if (!scopes.has(requiredScope)) {
    throw new BearerError(403, 'insufficient_scope', `this call needs the ${requiredScope} scope`, requiredScope);
  }
  return { clientId: String(result.client_id), scopes };
}
