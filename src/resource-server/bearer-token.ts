import { InvalidRequest, MissingToken } from './errors.js';

/** The parts of an HTTP request the bearer-token extraction looks at (framework-neutral). */
export interface BearerRequest {
  /** Every Authorization header value (Node's `req.headersDistinct.authorization`). */
  authorization: readonly string[] | string | undefined;
  /** The request target (path and query), to refuse tokens in the query string. */
  url: string;
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
  if (match[1]!.toLowerCase() !== 'bearer') throw new MissingToken();
  const token = match[2]?.trim() ?? '';
  if (token === '') throw new InvalidRequest('the Bearer authorization header carries no token');
  if (token.length > MAX_TOKEN_LENGTH || !B64TOKEN.test(token)) throw new InvalidRequest('malformed bearer token');
  return token;
}
