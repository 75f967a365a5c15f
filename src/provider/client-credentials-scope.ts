import type { Client, KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { ResourceServerConfig } from '../config/schema.js';

/** The scopes a client-credentials token request asks for; undefined for any other request. */
export function clientCredentialsScopes(ctx: KoaContextWithOIDC): string[] | undefined {
  if (ctx.oidc.route !== 'token' || ctx.oidc.params?.grant_type !== 'client_credentials') return undefined;
  return String(ctx.oidc.params.scope ?? '').split(' ').filter(Boolean);
}

const list = (scopes: string[]) => `${scopes.length === 1 ? 'scope' : 'scopes'} ${scopes.join(' ')}`;

/**
 * RFC 6749 §5.2: a client-credentials token carries every scope asked for, of the one API it is for
 * (RFC 8707), or the request fails with `invalid_scope` naming what cannot be granted.
 * oidc-provider's grant would drop those scopes silently and issue a token without them
 * (lib/actions/grants/client_credentials.js). `api` is the resolved resource; none when no API of
 * the client knows any requested scope. `known` are the scopes Latch's config defines: the
 * client's own `scope` allow-list governs those (as oidc-provider's validateClientScope does).
 */
export function refuseUngrantableScopes(requested: string[], client: Client, known: ReadonlySet<string>, api?: ResourceServerConfig): void {
  const allowed = client.scope === undefined ? undefined : new Set(client.scope.split(' '));
  const forbidden = requested.filter((scope) => known.has(scope) && allowed && !allowed.has(scope));
  if (forbidden.length) throw new errors.InvalidScope(`the client may not request the ${list(forbidden)}`, forbidden.join(' '));
  const unknown = api ? requested.filter((scope) => !api.scopes.includes(scope)) : requested;
  if (unknown.length) {
    throw new errors.InvalidScope(api ? `${api.audience} has no ${list(unknown)}` : `no API of this client has the ${list(unknown)}`, unknown.join(' '));
  }
}
