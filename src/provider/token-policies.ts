import type { Client, AccessToken, ClientCredentials, RefreshToken } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { ResourceServers } from './resource-servers.js';

type AnyToken = AccessToken | ClientCredentials | RefreshToken;

function audiences(aud: string | string[] | undefined): string[] {
  if (!aud) return [];
  return Array.isArray(aud) ? aud : [aud];
}

/**
 * RFC 7662 §4: the server decides who may learn about a token. A caller sees a token as active
 * only if it is the client the token was issued to, or a resource server registered (in config)
 * for one of the token's audiences. Anything else gets `{"active":false}`, which tells nothing.
 */
export function introspectionAllowed(
  resourceServers: ResourceServers,
  callerId: string,
  token: { clientId?: string; aud?: string | string[] },
): boolean {
  if (token.clientId === callerId) return true;
  const mine = resourceServers.introspectableBy(callerId);
  return audiences(token.aud).some((aud) => mine.has(aud));
}

/**
 * RFC 7009 §2.1: the server verifies that the token was issued to the requesting client and
 * refuses the request otherwise. A public client gets the silent 200 instead, so it cannot probe
 * which token values are live.
 */
export function revocationAllowed(client: Client, token: AnyToken): boolean {
  if (token.clientId === client.clientId) return true;
  if (client.clientAuthMethod === 'none') return false;
  throw new errors.UnauthorizedClient('the token was not issued to this client');
}
