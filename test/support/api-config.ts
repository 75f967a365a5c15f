import type { LatchFileConfig } from '../../src/config/schema.js';
import { REDIRECT_URI, testFileConfig } from './test-config.js';

/** An API no config defines: the tests register it through the admin API. */
export const NEW_API = 'https://new.api.test/v1';

export const API_SECRETS = {
  tools: 'tools-client-secret-0123456789abcdef01',
  app: 'app-client-secret-0123456789abcdef01234',
  limited: 'limited-client-secret-0123456789abcdef',
};

/**
 * testFileConfig plus clients that may get tokens for NEW_API once it is registered (a config
 * client may list an audience that only an API registered at run time has): `tools` (client
 * credentials, no scope allow-list), `app` (users sign in), `limited` (client credentials, may
 * request n:read only).
 */
export function apiFileConfig(): LatchFileConfig {
  const file = testFileConfig();
  return {
    ...file,
    clients: [
      ...file.clients,
      { ...file.clients.find((c) => c.client_id === 'svc')!, client_id: 'tools', client_secret: API_SECRETS.tools, scope: undefined, resources: [NEW_API] },
      {
        ...file.clients.find((c) => c.client_id === 'web')!, client_id: 'app', client_name: 'App', client_secret: API_SECRETS.app,
        scope: undefined, resources: [NEW_API], redirect_uris: [REDIRECT_URI],
      },
      { ...file.clients.find((c) => c.client_id === 'svc')!, client_id: 'limited', client_secret: API_SECRETS.limited, scope: 'n:read', resources: [NEW_API] },
    ],
  };
}
