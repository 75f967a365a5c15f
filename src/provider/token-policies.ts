import type { Client, AccessToken, ClientCredentials, RefreshToken } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { TOKEN_EXCHANGE_GRANT } from '../config/schema.js';
import type { ResourceServers } from './resource-servers.js';

type AnyToken = AccessToken | ClientCredentials | RefreshToken;

function audiences(aud: string | string[] | undefined): string[] {
  if (!aud) return [];
  return Array.isArray(aud) ? aud : [aud];
}

/**
 * RFC 7662 §4: the server decides who may learn about a token. A caller sees a token as active
 * only if it is the client the token was issued to, or a resource server registered (config or run time)
 * for one of the token's audiences. Anything else gets `{"active":false}`, which tells nothing.
 *
 * Returns undefined when the caller may not see the token, else the audiences it introspects for
 * (empty for a client looking at its own token): user data meant for an API (its configured claims
 * and the account's live roles) is released only to that API's introspectors, for that API.
 */
export function introspectionAccess(
  resourceServers: ResourceServers,
  callerId: string,
  token: { clientId?: string; aud?: string | string[] },
): { apis: string[] } | undefined {
  const mine = resourceServers.introspectableBy(callerId);
  const apis = audiences(token.aud).filter((aud) => mine.has(aud));
  if (apis.length === 0 && token.clientId !== callerId) return undefined;
  return { apis };
}

/**
 * RFC 7009 §2.1: the server verifies that the token was issued to the requesting client and
 * refuses the request otherwise. A public client gets the silent 200 instead, so it cannot probe
 * which token values are live.
 *
 * An exchanged token (RFC 8693) lives in the grant of the user's sign-in at another client: its
 * holder revoking it ends that token alone (destroyed here, its death published by the adapter),
 * never the grant, which is not the holder's to end. Returning false stops oidc-provider from
 * revoking the grant's tokens next.
 */
export async function revocationAllowed(client: Client, token: AnyToken): Promise<boolean> {
  if (token.clientId === client.clientId) {
    if (token.kind !== 'AccessToken' || (token as AccessToken).gty !== TOKEN_EXCHANGE_GRANT) return true;
    await token.destroy();
    return false;
  }
  if (client.clientAuthMethod === 'none') return false;
  throw new errors.UnauthorizedClient('the token was not issued to this client');
}
