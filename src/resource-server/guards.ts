import type { AuthInfo } from './auth-info.js';
import { InsufficientScope, InsufficientUserAuthentication } from './errors.js';

/** A check on an authenticated request; throws InsufficientScope (403) when it fails. */
export type Guard = (auth: AuthInfo) => void;

const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

function names(values: readonly string[], what: string, fn: string): readonly string[] {
  if (values.length === 0) throw new TypeError(`${fn}() needs at least one ${what}`);
  for (const v of values) if (typeof v !== 'string' || !SCOPE.test(v)) throw new TypeError(`${fn}(): "${String(v)}" is not a valid ${what}`);
  return Object.freeze([...values]);
}

/** Every one of `scopes` must be granted (RFC 6750 §3.1 insufficient_scope, `scope=` lists them all). */
export function requireScopes(...scopes: string[]): Guard {
  const needed = names(scopes, 'scope', 'requireScopes');
  return function requiredScopes(auth) {
    const missing = needed.filter((s) => !auth.scopes.includes(s));
    if (missing.length) throw new InsufficientScope(`requires scope ${needed.join(' ')}`, needed);
  };
}

/** At least one of `scopes` must be granted. */
export function requireAnyScope(...scopes: string[]): Guard {
  const accepted = names(scopes, 'scope', 'requireAnyScope');
  return function requiredAnyScope(auth) {
    if (!accepted.some((s) => auth.scopes.includes(s))) throw new InsufficientScope(`requires one of the scopes ${accepted.join(' ')}`, accepted);
  };
}

/** The token's user must hold at least one of `roles` (introspection `roles` claim). */
export function requireRole(...roles: string[]): Guard {
  const accepted = names(roles, 'role', 'requireRole');
  return function requiredRole(auth) {
    if (!accepted.some((r) => auth.roles.includes(r))) {
      throw new InsufficientScope(`requires the role ${accepted.join(' or ')}`, undefined, 'ERR_INSUFFICIENT_ROLE');
    }
  };
}

/**
 * Any predicate over the introspection claims. A false answer is a 403 insufficient_scope: the
 * token is valid, it just does not allow this (a 401 would send the client to get a new token).
 */
export function claimCheck(check: (claims: AuthInfo['claims'], auth: AuthInfo) => boolean, description = 'the access token does not allow this request'): Guard {
  if (typeof check !== 'function') throw new TypeError('claimCheck() needs a function (claims, auth) => boolean');
  return function checkedClaims(auth) {
    if (check(auth.claims, auth) !== true) throw new InsufficientScope(description, undefined, 'ERR_CLAIM_CHECK_FAILED');
  };
}

/** What `requireAuthentication` asks of the sign-in behind a token (RFC 9470). */
export interface AuthenticationRequirements {
  /** The user must have actively signed in at most this many seconds ago (`auth_time`). */
  maxAgeSeconds?: number;
  /** The sign-in's `acr` must be one of these (in order of preference). */
  acrValues?: readonly string[];
}

const ACR = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Step-up (RFC 9470): the token's user must have signed in recently enough and/or at one of the
 * accepted levels, judged on Latch's introspection answer (`auth_time`, `acr`). Otherwise a 401
 * `insufficient_user_authentication` whose challenge carries `max_age` / `acr_values`: the client
 * signs the user in again with them (`prompt=login`) and retries. A machine token has no sign-in
 * and never passes. Options are checked here, at creation (TypeError).
 */
export function requireAuthentication(requirements: AuthenticationRequirements, now: () => number = Date.now): Guard {
  if (typeof requirements !== 'object' || requirements === null) throw new TypeError('requireAuthentication() needs { maxAgeSeconds?, acrValues? }');
  const { maxAgeSeconds, acrValues } = requirements;
  if (maxAgeSeconds === undefined && acrValues === undefined) throw new TypeError('requireAuthentication() needs maxAgeSeconds, acrValues or both');
  if (maxAgeSeconds !== undefined && (typeof maxAgeSeconds !== 'number' || !Number.isInteger(maxAgeSeconds) || maxAgeSeconds <= 0)) {
    throw new TypeError('requireAuthentication(): maxAgeSeconds must be a positive integer (seconds)');
  }
  if (acrValues !== undefined) {
    if (!Array.isArray(acrValues) || acrValues.length === 0) throw new TypeError('requireAuthentication(): acrValues must be a non-empty array of acr values');
    for (const v of acrValues) if (typeof v !== 'string' || !ACR.test(v)) throw new TypeError(`requireAuthentication(): "${String(v)}" is not a valid acr value`);
  }
  const demanded = { maxAge: maxAgeSeconds, acrValues: acrValues ? Object.freeze([...acrValues]) : undefined };
  return function requiredAuthentication(auth) {
    if (auth.sub === undefined || auth.authTime === undefined) {
      throw new InsufficientUserAuthentication('the access token carries no user authentication', demanded);
    }
    const stale = maxAgeSeconds !== undefined && Math.floor(now() / 1000) - auth.authTime > maxAgeSeconds;
    const otherLevel = demanded.acrValues !== undefined && (auth.acr === undefined || !demanded.acrValues.includes(auth.acr));
    if (stale && otherLevel) throw new InsufficientUserAuthentication('a more recent authentication, at another level, is required', demanded);
    if (stale) throw new InsufficientUserAuthentication('a more recent authentication is required', demanded);
    if (otherLevel) throw new InsufficientUserAuthentication('a different authentication level is required', demanded);
  };
}
