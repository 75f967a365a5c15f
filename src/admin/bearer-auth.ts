import type { Context } from 'koa';
import type { LatchProofs } from '../dpop/latch-proofs.js';
import { RefusedProof } from '../dpop/latch-proofs.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { Introspector } from '../introspection/introspect.js';

export const ADMIN_AUDIENCE = 'urn:latch:admin';
export const REALM = 'latch-admin';

type Scheme = 'Bearer' | 'DPoP';

/**
 * RFC 6750 §3 errors of a protected resource, with their `WWW-Authenticate` challenge. The admin
 * API accepts DPoP too, so it says so (RFC 9449 §7.1): a `DPoP` challenge with `algs` beside the
 * Bearer one, the error in the challenge of the scheme the request used, which comes first.
 */
export class BearerError extends OAuthError {
  readonly challenge: string;

  constructor(
    status: 400 | 401 | 403,
    error: 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof' | undefined,
    description: string,
    scope?: string,
    options: { scheme?: Scheme; algorithms?: readonly string[] } = {},
  ) {
    super(status, error ?? 'invalid_request', description);
    const parts = [`realm="${REALM}"`];
    if (error) parts.push(`error="${error}"`, `error_description="${description}"`);
    if (scope) parts.push(`scope="${scope}"`);
    const { scheme = 'Bearer', algorithms } = options;
    if (!algorithms) {
      this.challenge = `Bearer ${parts.join(', ')}`;
      return;
    }
    const algs = `algs="${algorithms.join(' ')}"`;
    this.challenge =
      scheme === 'DPoP' ? `DPoP ${[...parts, algs].join(', ')}, Bearer realm="${REALM}"` : `Bearer ${parts.join(', ')}, DPoP realm="${REALM}", ${algs}`;
  }
}

export interface AdminCaller {
  clientId: string;
  scopes: Set<string>;
}

/**
 * The admin API is a resource server of Latch itself: the caller presents an access token from the
 * client-credentials grant for audience `urn:latch:admin`, checked by the same introspection
 * every other API uses, so revoking an admin client cuts it off on its next call. A DPoP-bound
 * token (RFC 9449) must come with the DPoP scheme and a proof by its key (`proofs`), like at any
 * API protected by latch/resource-server; as a bearer token it is refused (§7.2).
 */
export async function authenticateAdmin(ctx: Context, introspector: Introspector, requiredScope: string, proofs?: LatchProofs): Promise<AdminCaller> {
  const algorithms = proofs?.algorithms;
  const fail = (status: 400 | 401 | 403, error: ConstructorParameters<typeof BearerError>[1], description: string, scheme: Scheme = 'Bearer', scope?: string) =>
    new BearerError(status, error, description, scope, { scheme, algorithms });
  const header = ctx.get('authorization');
  if (ctx.query.access_token !== undefined) throw fail(400, 'invalid_request', 'access tokens are not accepted in the query string');
  if (!header) throw fail(401, undefined, 'an access token is required');
  // RFC 6750 §2.1 and RFC 9449 §7.1 credentials; scheme names are case-insensitive (RFC 7235 §2.1).
  const match = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (!match || (match[1]!.toLowerCase() === 'dpop' && !proofs)) throw fail(400, 'invalid_request', 'malformed Authorization header');
  const scheme: Scheme = match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
  const token = match[2]!;
  const proof = scheme === 'DPoP' ? await proofs!.verify(ctx.req.headersDistinct.dpop, ctx.method, ctx.path, token).catch((err: unknown) => {
    throw err instanceof RefusedProof ? fail(401, 'invalid_dpop_proof', err.description, 'DPoP') : err;
  }) : undefined;
  const result = await introspector.introspectForAudience(ADMIN_AUDIENCE, token);
  if (!result.active) throw fail(401, 'invalid_token', 'the access token is not active', scheme);
  const cnf = result.cnf as { jkt?: unknown } | undefined;
  const bound = cnf?.jkt !== undefined || result.token_type === 'DPoP';
  if (!proof) {
    // RFC 9449 §7.2: a DPoP-bound access token received as a bearer token MUST be rejected.
    if (bound) throw fail(401, 'invalid_token', 'the access token is bound to a DPoP key: it cannot be used as a bearer token');
  } else {
    if (!bound) throw fail(401, 'invalid_token', 'the access token is not bound to a DPoP key: send it with the Bearer scheme', 'DPoP');
    if (cnf?.jkt !== proof.jkt) throw fail(401, 'invalid_token', 'the DPoP proof is signed by another key than the one the access token is bound to', 'DPoP');
    if (!(await proofs!.spend(String(result.client_id), proof))) throw fail(401, 'invalid_dpop_proof', 'the DPoP proof was already used (its jti is spent)', 'DPoP');
  }
  const scopes = new Set(String(result.scope ?? '').split(' ').filter(Boolean));
  if (!scopes.has(requiredScope)) {
    throw fail(403, 'insufficient_scope', `this call needs the ${requiredScope} scope`, scheme, requiredScope);
  }
  return { clientId: String(result.client_id), scopes };
}
