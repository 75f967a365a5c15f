import { errors } from 'oidc-provider';
import { ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE } from './token-types.js';

/** A token exchange request (RFC 8693 §2.1), checked for shape before any token is looked at. */
export interface ExchangeRequest {
  subjectToken: string;
  actorToken: string | undefined;
  /** What the client asked for; undefined: what the target takes (§2.1 "at the discretion of the authorization server"). */
  requestedType: typeof ACCESS_TOKEN_TYPE | typeof JWT_TOKEN_TYPE | undefined;
  /** The one audience the new token is for (`audience` or `resource`). */
  audience: string;
  /** Requested scopes; undefined: as much of the subject's live scope as the target may have. */
  scopes: string[] | undefined;
}

type Params = Record<string, string | string[] | undefined>;

function single(params: Params, name: string): string | undefined {
  const value = params[name];
  return Array.isArray(value) ? value[0] : value || undefined;
}

function values(params: Params, name: string): string[] {
  const value = params[name];
  return (Array.isArray(value) ? value : value ? [value] : []).filter(Boolean);
}

/**
 * Reads and checks the parameters (oidc-provider has refused repeats of everything but `audience`
 * and `resource`). Latch exchanges its own access tokens: both token types must be access tokens;
 * it issues either an opaque access token or a JWT, for exactly one target.
 */
export function readExchangeRequest(params: Params): ExchangeRequest {
  const subjectToken = single(params, 'subject_token');
  if (!subjectToken) throw new errors.InvalidRequest("missing required parameter 'subject_token'");
  const subjectType = single(params, 'subject_token_type');
  if (!subjectType) throw new errors.InvalidRequest("missing required parameter 'subject_token_type'");
  if (subjectType !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}: Latch exchanges its own access tokens`);
  }

  const actorToken = single(params, 'actor_token');
  const actorType = single(params, 'actor_token_type');
  // §2.1: actor_token_type is REQUIRED with an actor_token and MUST NOT be included otherwise.
  if (actorToken && !actorType) throw new errors.InvalidRequest("actor_token_type is required with 'actor_token'");
  if (!actorToken && actorType) throw new errors.InvalidRequest("actor_token_type must not be sent without 'actor_token'");
  if (actorType && actorType !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest(`actor_token_type must be ${ACCESS_TOKEN_TYPE}: the actor is named by a Latch access token`);
  }

  const requested = single(params, 'requested_token_type');
  if (requested && requested !== ACCESS_TOKEN_TYPE && requested !== JWT_TOKEN_TYPE) {
    throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE} (an opaque token) or ${JWT_TOKEN_TYPE} (a signed JWT)`);
  }

  const targets = [...new Set([...values(params, 'audience'), ...values(params, 'resource')])];
  if (targets.length === 0) throw new errors.InvalidRequest("missing 'audience' (or 'resource'): name the service the new token is for");
  if (targets.length > 1) throw new errors.InvalidTarget('a token exchange issues a token for exactly one audience; ask once per service');

  const scope = single(params, 'scope');
  return {
    subjectToken,
    actorToken,
    requestedType: requested as ExchangeRequest['requestedType'],
    audience: targets[0]!,
    scopes: scope === undefined ? undefined : [...new Set(scope.split(' ').filter(Boolean))],
  };
}
