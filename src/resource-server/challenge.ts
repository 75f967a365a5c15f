import { InsufficientUserAuthentication, UseDpopNonce, type BearerError } from './errors.js';

/** What an adapter writes back: status, headers, and a JSON body (none for a missing token). */
export interface BearerResponse {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string; scope?: string; max_age?: number; acr_values?: string } | undefined;
}

/** RFC 9470 §3: the `max_age` and `acr_values` auth-params (and body members) of a step-up challenge. */
function stepUp(err: BearerError): { max_age?: number; acr_values?: string } {
  if (!(err instanceof InsufficientUserAuthentication)) return {};
  return {
    ...(err.maxAge === undefined ? {} : { max_age: err.maxAge }),
    ...(err.acrValues?.length ? { acr_values: err.acrValues.join(' ') } : {}),
  };
}

/** RFC 6750 §3: error_description and scope use a restricted ASCII set inside their quotes. */
function quotable(value: string): string {
  return value.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?');
}

/** What a resource server that accepts DPoP says about it in its challenges (RFC 9449 §7.1). */
export interface DpopChallenge {
  /** The proof algorithms it accepts: the `algs` parameter. */
  algorithms: readonly string[];
}

/**
 * Renders a BearerError as the RFC 6750 §3 response: `WWW-Authenticate: Bearer realm=…` on
 * 400/401/403 (with `error`, `error_description` and, for insufficient_scope, `scope`), a JSON body
 * repeating them, and `cache-control: no-store`. The 503 carries no challenge: the client did
 * nothing wrong, and `retry-after` tells it when to try again (Latch's own value when it sent one).
 *
 * With `dpop` (the API accepts DPoP too), RFC 9449 §7.1: a `DPoP` challenge with `algs` beside the
 * Bearer one; the error goes in the challenge of the scheme the request used (`err.scheme`), which
 * comes first; `use_dpop_nonce` also sends the nonce to use in `DPoP-Nonce` (§9).
 */
export function bearerResponse(err: BearerError, realm: string, dpop?: DpopChallenge): BearerResponse {
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (err.status === 503) {
    headers['retry-after'] = String(Math.max(1, (err as { retryAfterSeconds?: number }).retryAfterSeconds ?? 1));
    // The cause (which URL, which status) is for this service's logs, not for its callers.
    return { status: 503, headers, body: { error: 'temporarily_unavailable', error_description: 'the authorization server could not be reached, retry later' } };
  }
  const errorParams: string[] = [];
  if (err.error) {
    errorParams.push(`error="${err.error}"`, `error_description="${quotable(err.description)}"`);
    if (err.scopes?.length) errorParams.push(`scope="${quotable(err.scopes.join(' '))}"`);
    // RFC 9470 §3: what the sign-in must be, in the challenge of the scheme the request used.
    for (const [name, value] of Object.entries(stepUp(err))) errorParams.push(`${name}="${quotable(String(value))}"`);
  }
  const scheme = dpop ? err.scheme : 'Bearer';
  const bearer = `Bearer ${[`realm="${realm}"`, ...(scheme === 'Bearer' ? errorParams : [])].join(', ')}`;
  if (!dpop) {
    headers['www-authenticate'] = bearer;
  } else {
    const proof = `DPoP ${[`realm="${realm}"`, ...(scheme === 'DPoP' ? errorParams : []), `algs="${dpop.algorithms.join(' ')}"`].join(', ')}`;
    headers['www-authenticate'] = scheme === 'DPoP' ? `${proof}, ${bearer}` : `${bearer}, ${proof}`;
    if (err instanceof UseDpopNonce) headers['dpop-nonce'] = err.nonce;
  }
  if (!err.error) return { status: err.status, headers, body: undefined };
  return {
    status: err.status,
    headers,
    body: { error: err.error, error_description: err.description, ...(err.scopes?.length ? { scope: err.scopes.join(' ') } : {}), ...stepUp(err) },
  };
}

/** Whether `realm` fits in a quoted-string without escaping (checked once, at creation). */
export function isValidRealm(realm: string): boolean {
  return realm.length > 0 && /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/.test(realm);
}
