import type { AuthInfo } from './auth-info.js';
import { InsufficientScope } from './errors.js';

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
