import { ResourceServers } from '../../src/provider/resource-servers.js';
import { ExchangePolicy } from '../../src/token-exchange/exchange-policy.js';
import { TOKEN_EXCHANGE_GRANT, type ClientConfig } from '../../src/config/schema.js';
import { NEW_API } from '../support/api-config.js';
import { testFileConfig } from '../support/test-config.js';

/**
 * The token-exchange policy reads its opaque targets from the live resource-server table: an API
 * registered, changed or removed at run time is a target, changed or gone at the next exchange.
 * (A config client cannot name a run-time API in token_exchange; clients registered at run time
 * can, so the client here is given one after validation.)
 */
describe('ExchangePolicy and APIs managed at run time', () => {
  const file = testFileConfig();
  const exchanger: ClientConfig = { ...file.clients.find((c) => c.client_id === 'svc')!, client_id: 'exchanger', grant_types: [TOKEN_EXCHANGE_GRANT] as ClientConfig['grant_types'], scope: undefined, token_exchange: { audiences: [NEW_API] } };
  const table = new ResourceServers({ ...file, clients: [...file.clients, exchanger] });
  const policy = new ExchangePolicy({ ...file, clients: [...file.clients, exchanger] }, 'RS256', table);
  const managed = (scopes: string[], accessTokenTTL: number) => ({
    audience: NEW_API, name: 'New', scopes, claims: [], introspectors: [], accessTokenTTL, managedBy: 'admin' as const, createdAt: Date.now(), updatedAt: Date.now(), rev: 1,
  });

  const refusal = () => {
    try {
      policy.target(exchanger, NEW_API);
    } catch (err) {
      return { error: (err as { error: string }).error, error_description: (err as { error_description: string }).error_description };
    }
    return undefined;
  };
  const REFUSED = { error: 'invalid_target', error_description: `this client may not exchange tokens for "${NEW_API}"` };

  it('refuses a target not registered yet, serves it once registered, with its current scopes and TTL, and refuses it once removed', () => {
    expect(refusal()).toEqual(REFUSED);
    table.replaceManaged([managed(['n:read', 'n:write'], 120)]);
    expect(policy.target(exchanger, NEW_API)).toEqual({ kind: 'opaque', audience: NEW_API, scopes: ['n:read', 'n:write'], ttlSeconds: 120 });
    table.replaceManaged([managed(['n:read'], 60)]);
    const target = policy.target(exchanger, NEW_API);
    expect(target).toEqual({ kind: 'opaque', audience: NEW_API, scopes: ['n:read'], ttlSeconds: 60 });
    expect(policy.allowedScopes(exchanger, target)).toEqual(new Set(['n:read']));
    table.replaceManaged([]);
    expect(refusal()).toEqual(REFUSED);
  });
});
