import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ExchangeSubject, Introspector } from '../introspection/introspect.js';
import { actClaim } from './act-claim.js';
import type { ExchangeClient, ExchangePolicy, ExchangeTarget } from './exchange-policy.js';
import { readExchangeRequest, type ExchangeRequest } from './exchange-request.js';
import { exchangedScope } from './exchange-scope.js';
import type { ExchangedJwts } from './exchanged-jwt.js';
import { issueExchangedOpaque } from './exchanged-opaque.js';
import { ACCESS_TOKEN_TYPE, EXCHANGE_PARAMETERS, JWT_TOKEN_TYPE, REPEATABLE_PARAMETERS, TOKEN_EXCHANGE_GRANT } from './token-types.js';

export interface TokenExchangeDependencies {
  introspector: Introspector;
  policy: ExchangePolicy;
  jwts: ExchangedJwts;
}

/** §2.1: without requested_token_type, the target decides; with one, it must be what the target takes. */
function checkRequestedType(request: ExchangeRequest, target: ExchangeTarget): void {
  const takes = target.kind === 'jwt' ? JWT_TOKEN_TYPE : ACCESS_TOKEN_TYPE;
  if (request.requestedType && request.requestedType !== takes) {
    const what = target.kind === 'jwt' ? 'signed JWTs (an internal service that verifies them itself)' : 'opaque access tokens (an API that introspects them)';
    throw new errors.InvalidTarget(`${target.audience} receives ${what}: requested_token_type must be ${takes}`);
  }
}

/** A client whose registration requires DPoP-bound tokens (RFC 9449 §5.2) gets none it did not ask to be bound. */
function refuseIfDpopRequired(ctx: KoaContextWithOIDC): void {
  if ((ctx.oidc.client as unknown as { dpopBoundAccessTokens?: boolean }).dpopBoundAccessTokens === true) {
    throw new errors.InvalidRequest('this client must receive DPoP-bound access tokens (dpop_bound_access_tokens), which token exchange does not issue');
  }
}

/**
 * The token exchange grant (RFC 8693) at /token, through oidc-provider's registerGrantType: client
 * authentication, rate limits, the canonical route, error rendering and metrics are the token
 * endpoint's. Each step, in order:
 *   readExchangeRequest  the parameters (§2.1), checked for shape
 *   policy.target        may this client exchange for that audience (unauthorized_client, invalid_target)
 *   checkRequestedType   opaque for an API, JWT for an internal service
 *   judgeSubject         Latch's one introspection decision, for this client (invalid_request)
 *   judgeActor           the same for the actor_token, when sent
 *   exchangedScope       within the live scope and the policy (invalid_scope)
 *   issue                a signed JWT, or an opaque token of the subject's grant (§2.2.1 response)
 */
export function tokenExchangeGrant({ introspector, policy, jwts }: TokenExchangeDependencies) {
  async function judge(clientId: string, token: string, parameter: 'subject_token' | 'actor_token'): Promise<ExchangeSubject> {
    const judged = await introspector.judgeForExchange(clientId, token);
    // §2.2.2: an invalid subject or actor token is invalid_request. Like /introspect, it says
    // nothing about why (expired, revoked, unknown, another API's, a refresh token).
    if (!judged) throw new errors.InvalidRequest(`${parameter} is not an active access token this client may use`);
    return judged;
  }

  return async function tokenExchange(ctx: KoaContextWithOIDC): Promise<void> {
    const request = readExchangeRequest(ctx.oidc.params as Record<string, string | string[] | undefined>);
    const clientId = ctx.oidc.client!.clientId;
    const client = ctx.oidc.client as unknown as ExchangeClient;
    const target = policy.target(client, request.audience);
    checkRequestedType(request, target);
    refuseIfDpopRequired(ctx);
    const subject = await judge(clientId, request.subjectToken, 'subject_token');
    const actor = request.actorToken ? await judge(clientId, request.actorToken, 'actor_token') : undefined;
    const live = String(subject.answer.scope ?? '').split(' ').filter(Boolean);
    const scopes = exchangedScope(request.scopes, live, policy.allowedScopes(client, target), target.audience);
    const act = actClaim(clientId, subject, actor);
    const issued = target.kind === 'jwt' ? await jwts.issue(target, subject, clientId, scopes, act) : await issueExchangedOpaque(ctx, target, subject, scopes, act);
    // §2.2.1: issued_token_type is required; token_type is Bearer (these are access tokens).
    ctx.body = {
      access_token: issued.value,
      issued_token_type: target.kind === 'jwt' ? JWT_TOKEN_TYPE : ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: issued.expiresIn,
      scope: scopes.join(' '),
    };
  };
}

/** Registers the grant (advertised in discovery's grant_types_supported from then on). */
export function registerTokenExchange(provider: Provider, dependencies: TokenExchangeDependencies): void {
  provider.registerGrantType(TOKEN_EXCHANGE_GRANT, tokenExchangeGrant(dependencies), [...EXCHANGE_PARAMETERS], [...REPEATABLE_PARAMETERS]);
}
