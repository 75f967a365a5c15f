import type { Context } from 'koa';
import { OAuthError } from '../errors/oauth-error.js';
import type { Introspector } from '../introspection/introspect.js';
import { SCOPE_MANAGE, SCOPE_READ, SSF_AUDIENCE } from './event-types.js';

export const SSF_REALM = 'latch-ssf';

/** RFC 6750 §3 errors of the SSF API, with their `WWW-Authenticate` challenge. */
export class ReceiverAuthError extends OAuthError {
  readonly challenge: string;

  constructor(status: 400 | 401 | 403, error: 'invalid_request' | 'invalid_token' | 'insufficient_scope' | undefined, description: string, scope?: string) {
    super(status, error ?? 'invalid_request', description);
    const parts = [`realm="${SSF_REALM}"`];
    if (error) parts.push(`error="${error}"`, `error_description="${description}"`);
    if (scope) parts.push(`scope="${scope}"`);
    this.challenge = `Bearer ${parts.join(', ')}`;
  }
}

/** The authenticated receiver: a client holding an access token for `urn:latch:ssf`. */
export interface Receiver {
  clientId: string;
}

/**
 * SSF §7 requires the management API (and RFC 8936 polling) to associate each request with a
 * receiver. Latch's receivers are its clients: they present an access token for `urn:latch:ssf`
 * (client credentials, RFC 6749 §4.4), introspected by Latch's one decision like the admin API's,
 * so revoking a receiver's client cuts it off on its next call. Reads need `ssf.read` or
 * `ssf.manage`, everything else `ssf.manage` (CAEP interoperability profile §2.8.2).
 */
export async function authenticateReceiver(ctx: Context, introspector: Introspector, access: 'read' | 'manage'): Promise<Receiver> {
  if (ctx.query.access_token !== undefined) {
    throw new ReceiverAuthError(400, 'invalid_request', 'access tokens are not accepted in the query string');
  }
  const header = ctx.get('authorization');
  if (!header) throw new ReceiverAuthError(401, undefined, 'an access token for urn:latch:ssf is required');
  // RFC 6750 §2.1; the scheme name is case-insensitive (RFC 7235 §2.1).
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (!match) throw new ReceiverAuthError(400, 'invalid_request', 'malformed Authorization header');
  const result = await introspector.introspectForAudience(SSF_AUDIENCE, match[1]!);
  if (!result.active) throw new ReceiverAuthError(401, 'invalid_token', 'the access token is not active');
  // RFC 9449 §7.2: a DPoP-bound token presented as a bearer token is refused.
  const cnf = result.cnf as { jkt?: unknown } | undefined;
  if (cnf?.jkt !== undefined || result.token_type === 'DPoP') {
    throw new ReceiverAuthError(401, 'invalid_token', 'the access token is bound to a DPoP key: it cannot be used as a bearer token');
  }
  const scopes = new Set(String(result.scope ?? '').split(' ').filter(Boolean));
  const allowed = scopes.has(SCOPE_MANAGE) || (access === 'read' && scopes.has(SCOPE_READ));
  if (!allowed) {
    const needed = access === 'read' ? `${SCOPE_READ} or ${SCOPE_MANAGE}` : SCOPE_MANAGE;
    throw new ReceiverAuthError(403, 'insufficient_scope', `this call needs the ${needed} scope`, access === 'read' ? SCOPE_READ : SCOPE_MANAGE);
  }
  return { clientId: String(result.client_id) };
}
