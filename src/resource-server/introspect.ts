import { audiences, toAuthInfo, type AuthInfo, type IntrospectionClaims } from './auth-info.js';
import type { ClientCredentials } from './client-auth.js';
import { IntrospectionUnavailable, InvalidToken } from './errors.js';
import type { HttpClient } from './http-client.js';
import type { Endpoint } from './discovery.js';

export interface IntrospectParams {
  http: HttpClient;
  endpoint: Endpoint;
  credentials: ClientCredentials;
  audience: string;
  token: string;
  now?: () => number;
}

/**
 * One RFC 7662 call, and the checks on its answer:
 * - anything but a 200 JSON object is Latch failing (a 401 means *our* credentials are wrong): 503;
 * - `active` other than `true` → 401 invalid_token (§2.2: an inactive answer says nothing else, so
 *   expired, revoked and unknown look the same to us, and to our caller);
 * - our audience not in `aud` → 401 invalid_token (RFC 8707: a token for another API is not ours);
 * - `token_type` other than Bearer or DPoP (e.g. a refresh token) or a past `exp` → 401 invalid_token.
 * Whether the token fits the scheme it came with (RFC 9449 §7: a DPoP-bound token only with a
 * proof by its key) is the caller's to check, on every request: this answer may be cached.
 */
export async function introspect({ http, endpoint, credentials, audience, token, now = Date.now }: IntrospectParams): Promise<AuthInfo> {
  const form = new URLSearchParams({ token, token_type_hint: 'access_token', ...credentials.form });
  const { status, json, retryAfterSeconds } = await http.send(endpoint.introspection, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...credentials.headers },
    body: form.toString(),
  });
  if (status !== 200 || typeof json !== 'object' || json === null || Array.isArray(json)) {
    const error = (json as { error?: unknown } | undefined)?.error;
    // Latch's own Retry-After (a 429 of its rate limits, a 503) is passed on to our caller.
    throw new IntrospectionUnavailable(`introspection answered ${status}${typeof error === 'string' ? ` ${error}` : ''}`, { retryAfterSeconds });
  }
  const claims = json as Partial<IntrospectionClaims> & { active?: unknown };
  if (claims.active !== true) throw new InvalidToken('the access token is not active (expired, revoked or unknown)');
  if (typeof claims.client_id !== 'string') throw new IntrospectionUnavailable('introspection answer has no client_id');
  if (!audiences(claims).includes(audience)) throw new InvalidToken('the access token is not meant for this resource server', 'ERR_AUDIENCE_MISMATCH');
  if (claims.token_type !== undefined && !['bearer', 'dpop'].includes(String(claims.token_type).toLowerCase())) {
    throw new InvalidToken('the token is not an access token');
  }
  if (typeof claims.exp === 'number' && claims.exp * 1000 <= now()) throw new InvalidToken('the access token is not active (expired, revoked or unknown)');
  return toAuthInfo(claims as IntrospectionClaims & { client_id: string });
}
