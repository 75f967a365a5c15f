import type Provider from 'oidc-provider';
// oidc-provider keeps its configuration in a private field, readable only through this module
// (it has no `exports` map, so the path is stable within a major version; keepScopesInStep throws at
// start-up if the shape changes, and test/admin/apis.test.ts checks discovery and a client's allow-list).
import instance from 'oidc-provider/lib/helpers/weak_cache.js';
import type { ResourceServers } from './resource-servers.js';

/**
 * Keeps oidc-provider's set of known scopes (`configuration.scopes`, a Set built once from the
 * `scopes` option when the Provider is constructed) in step with the resource-server table, so
 * APIs registered at run time behave like configured ones. oidc-provider reads that Set on every
 * request, not a copy:
 *  - `validateClientScope` (helpers/grant_authorization.js, at /auth, /token for
 *    client_credentials, device and CIBA): a client whose `scope` metadata restricts it is refused a
 *    requested scope only if the scope is in the Set. An API scope missing from it would slip past
 *    every client's allow list.
 *  - `requestParamOIDCScopes` (helpers/oidc_context.js) and `filterStatics`
 *    (shared/check_resource.js): without a resource, scopes outside the Set are dropped.
 *  - client metadata validation (helpers/client_schema.js `scopes()`): a client registered at run
 *    time may name only scopes in the Set in its `scope`.
 *  - discovery's `scopes_supported`.
 * The scopes a token for an API gets are decided elsewhere, per request, from the table
 * (configuration.ts `getResourceServerInfo`: the API's scopes; oidc-provider filters the
 * requested scopes through them).
 *
 * The Set keeps whatever it held at construction (OIDC scopes, the config's API scopes); the
 * scopes of run-time APIs are added, and removed again once no API has them.
 */
export function keepScopesInStep(provider: Provider, table: ResourceServers): void {
  const configuration = (instance as (p: Provider) => { configuration?: { scopes?: Set<string> } } | undefined)(provider)?.configuration;
  const scopes = configuration?.scopes;
  if (!(scopes instanceof Set)) throw new TypeError('oidc-provider internals changed: configuration.scopes is not a Set (src/provider/provider-scopes.ts)');
  const base = new Set(scopes);
  const sync = () => {
    const current = new Set(table.scopes());
    for (const scope of [...scopes]) if (!base.has(scope) && !current.has(scope)) scopes.delete(scope);
    for (const scope of current) scopes.add(scope);
  };
  table.onChange(sync);
  sync();
}
