import { parseFileConfig } from '../../src/config/load.js';
import type { LatchFileConfig } from '../../src/config/schema.js';
import { API_A, testFileConfig } from './test-config.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/** An internal service that gets signed JWTs by exchange; and one whose JWTs live 2 s. */
export const INTERNAL_A = 'urn:test:internal-a';
export const INTERNAL_BRIEF = 'urn:test:internal-brief';
/** Another API (opaque tokens, introspected by `api-history`) that understands a:read and a:write. */
export const HISTORY_API = 'https://history.api.test';

export const EXCHANGE_SECRETS = {
  gateway: 'gateway-secret-0123456789abcdef012345678',
  capped: 'capped-gateway-secret-0123456789abcdef01',
  stranger: 'stranger-gateway-secret-0123456789abcdef',
  history: 'api-history-secret-0123456789abcdef01234',
};

/** Users the destructive tests each spend (revoke-all, disable, role changes), so no test spoils another. */
export const EXCHANGE_USERS = ['carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy'] as const;
export const passwordOf = (username: string) => `${username}-password-0123`;

/**
 * testFileConfig() plus token exchange: `gateway` (an introspector of API A, as a gateway in front of
 * it is) may exchange for INTERNAL_A, INTERNAL_BRIEF (JWTs) and HISTORY_API (opaque); `capped-gateway`
 * only for INTERNAL_A and only a:read; `stranger-gateway` may exchange for INTERNAL_A but sees no
 * API's tokens. Users: alice (viewer), and EXCHANGE_USERS as editors.
 */
export function exchangeFileConfig(): LatchFileConfig {
  const base = testFileConfig();
  const exchanger = (client_id: string, client_secret: string, audiences: string[], scopes?: string[]) => ({
    client_id,
    client_secret,
    grant_types: [TOKEN_EXCHANGE],
    token_exchange: { audiences, ...(scopes ? { scopes } : {}) },
  });
  return parseFileConfig({
    ...base,
    resourceServers: [
      ...base.resourceServers.map((rs) => (rs.audience === API_A ? { ...rs, introspectors: [...rs.introspectors, 'gateway', 'capped-gateway'] } : rs)),
      { audience: HISTORY_API, name: 'Order history', scopes: ['a:read', 'a:write'], claims: ['username'], introspectors: ['api-history'], accessTokenTTL: 300 },
    ],
    tokenExchange: {
      jwtAudiences: [
        { audience: INTERNAL_A, name: 'Internal A', scopes: ['a:read', 'a:write'], claims: ['preferred_username', 'email'] },
        { audience: INTERNAL_BRIEF, name: 'Internal, brief', scopes: ['a:read'], ttlSeconds: 2 },
      ],
    },
    clients: [
      ...base.clients,
      exchanger('gateway', EXCHANGE_SECRETS.gateway, [INTERNAL_A, INTERNAL_BRIEF, HISTORY_API]),
      exchanger('capped-gateway', EXCHANGE_SECRETS.capped, [INTERNAL_A], ['a:read']),
      exchanger('stranger-gateway', EXCHANGE_SECRETS.stranger, [INTERNAL_A]),
      { client_id: 'api-history', client_secret: EXCHANGE_SECRETS.history, grant_types: [] },
    ],
    accounts: [
      ...base.accounts,
      ...EXCHANGE_USERS.map((username) => ({ sub: `sub-${username}`, username, password: passwordOf(username), email: `${username}@example.test`, roles: ['editor'] })),
    ],
  });
}
