import { InvalidRequest, MissingToken, type AuthScheme } from './errors.js';

/** The parts of an HTTP request the token extraction and DPoP verification look at (framework-neutral). */
export interface BearerRequest {
  /** Every Authorization header value (Node's `req.headersDistinct.authorization`). */
  authorization: readonly string[] | string | undefined;
  /** The request target (path and query), to refuse tokens in the query string. */
  url: string;
  /** DPoP only: the HTTP method (a proof's `htm`). */
  method?: string;
  /** DPoP only: the absolute URL the request reached, as the framework sees it (a proof's `htu`), unless `dpop.publicUrl` is set. */
  href?: string;
  /** DPoP only: every DPoP header value (`req.headersDistinct.dpop`). */
  dpop?: readonly string[] | string | undefined;
}

/** The access token of a request and the scheme it came with. */
export interface Credentials {
  scheme: AuthScheme;
  token: string;
}

/** RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Far above any Latch token; a longer value is garbage, not something worth sending to Latch. */
export const MAX_TOKEN_LENGTH = 4096;

function queryHasToken(url: string): boolean {
  const q = url.indexOf('?');
  if (q < 0) return false;
  return new URLSearchParams(url.slice(q + 1)).has('access_token');
}

/**
 * Finds the access token of a request, by the Authorization header only (RFC 6750 §2.1).
 * A token in the query string (§2.3) is refused with 400: it ends up in logs, history and Referer
 * headers (RFC 9700 §4.3.2), so we never accept it, even alongside a header.
 * No Authorization header, or one of another scheme, is "no credentials": 401 without error code.
 */
export function extractBearerToken(request: BearerRequest): string {
  return extractCredentials(request, false).token;
}

/**
 * The same, for the Bearer scheme and, when `acceptDpop`, the DPoP scheme (RFC 9449 §7.1: its
 * token68 has the b64token syntax). Any other scheme is "no credentials" (401 without error code).
 */
export function extractCredentials(request: BearerRequest, acceptDpop: boolean): Credentials {
  if (queryHasToken(request.url)) {
    throw new InvalidRequest('access tokens are not accepted in the query string; send an Authorization: Bearer header', 'ERR_TOKEN_IN_QUERY');
  }
  const values = request.authorization === undefined ? [] : typeof request.authorization === 'string' ? [request.authorization] : request.authorization;
  const present = values.filter((v) => v !== '');
  if (present.length > 1) throw new InvalidRequest('more than one Authorization header');
  const header = present[0];
  if (header === undefined) throw new MissingToken();
  const match = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?: +(.*))?$/.exec(header.trim());
  if (!match) throw new InvalidRequest('malformed Authorization header');
  const name = match[1]!.toLowerCase();
  const scheme: AuthScheme | undefined = name === 'bearer' ? 'Bearer' : name === 'dpop' && acceptDpop ? 'DPoP' : undefined;
  if (!scheme) throw new MissingToken();
  const token = match[2]?.trim() ?? '';
  if (token === '') throw new InvalidRequest(`the ${scheme} authorization header carries no token`, undefined, scheme);
  if (token.length > MAX_TOKEN_LENGTH || !B64TOKEN.test(token)) throw new InvalidRequest(scheme === 'Bearer' ? 'malformed bearer token' : 'malformed DPoP access token', undefined, scheme);
  return { scheme, token };
}
