import type { Context, Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../log/logger.js';
import { routeName } from '../provider/routes.js';
import { tokenSha256 } from '../revocation/events.js';
import type { Revocations } from '../revocation/revocations.js';

/**
 * Publishes the revocation event of an RFC 7009 request oidc-provider served. A revoked token takes
 * its grant's other tokens with it, so the event names the grant's subject and client as well.
 */
export function revocationEvents(revocations: Revocations, logger: Logger) {
  return async function publishRevocation(ctx: Context, next: Next) {
    await next();
    if (routeName(ctx) !== 'revocation' || ctx.status !== 200) return;
    const { entities, client } = (ctx as unknown as KoaContextWithOIDC).oidc ?? {};
    const token = entities?.AccessToken ?? entities?.RefreshToken ?? entities?.ClientCredentials;
    // Only a token the caller owned was revoked (a public client's foreign token gets a silent 200).
    if (!token?.jti || token.clientId !== client?.clientId) return;
    const accountId = 'accountId' in token ? token.accountId : undefined;
    const grantId = 'grantId' in token ? token.grantId : undefined;
    await revocations
      .announce(grantId ? 'grant' : 'token', { sub: accountId, client_id: token.clientId, token_sha256: tokenSha256(token.jti) }, {
        actor: client?.clientId ?? 'client',
        reason: 'revoked by the client (RFC 7009)',
      })
      .catch((err: Error) => logger.warn({ err: err.message }, 'could not publish revocation event'));
  };
}
