import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import type { AdapterHooks } from '../../adapters/redis/redis-adapter.js';
import type { Logger } from '../log/logger.js';
import type { Actor, Revocations } from '../revocation/revocations.js';

/**
 * Who killed what oidc-provider killed, read once from the request it happened in (the route
 * oidc-provider resolved, whatever path variant reached it, and the authenticated client).
 */
function actorOf(ctx: KoaContextWithOIDC | undefined): Actor {
  const route = ctx?.oidc.route;
  const clientId = ctx?.oidc.client?.clientId;
  switch (route) {
    case 'revocation':
      return { actor: clientId ?? 'client', reason: 'revoked by the client (RFC 7009)' };
    case 'token':
      // The token endpoint kills only on reuse of a consumed refresh token or code (RFC 9700 §4.14.2, RFC 6749 §4.1.2).
      return { actor: 'latch', reason: ctx?.oidc.params?.grant_type === 'authorization_code' ? 'authorization code reuse' : 'refresh token reuse' };
    case 'end_session_confirm':
      return { actor: 'user', reason: 'signed out (RP-initiated logout)' };
    default:
      return { actor: clientId ?? 'latch', reason: route ? `revoked by oidc-provider (${route})` : 'revoked by oidc-provider' };
  }
}

/**
 * The adapter's hooks: every grant or token death inside oidc-provider is published by
 * Revocations, once per grant per request, before the request answers. A failed publish is
 * logged, not answered: the revocation itself has happened.
 */
export function revocationHooks(revocations: Revocations, logger: Logger): AdapterHooks {
  return {
    async died(death) {
      const ctx = Provider.ctx;
      try {
        await revocations.publishDeath(death, actorOf(ctx), ctx);
      } catch (err) {
        logger.warn({ err: (err as Error).message, scope: death.kind }, 'could not publish revocation event');
      }
    },
  };
}
