import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { parseFileConfig } from '../../src/config/load.js';
import type { LatchFileConfig } from '../../src/config/schema.js';
import { REDIRECT_URI, testFileConfig } from './test-config.js';

/** The example APIs' audience, and the scopes the examples enforce (as in config/demo.json). */
export const ORDERS_API = 'https://orders.api.test';
/** An API whose access tokens live one second, to see expiry without touching Redis. */
export const BRIEF_API = 'https://brief.api.test';

export const RS_SECRETS = {
  ordersApi: 'orders-api-secret-0123456789abcdef0123',
  ordersWeb: 'orders-web-secret-0123456789abcdef0123',
  demoWeb: 'demo-web-secret-0123456789abcdef012345',
  svcOrders: 'svc-orders-secret-0123456789abcdef0123',
};

export interface RsConfigOptions {
  /** Origin of the example web app (3), for its redirect and post-logout URIs. */
  appOrigin?: string;
}

export interface RsConfig {
  file: LatchFileConfig;
  /** The private key of `orders-api-jwt` (private_key_jwt); Latch holds its public half. */
  ordersApiJwtKey: JWK;
}

/**
 * testFileConfig() plus what the resource-server tests and examples need: an Orders API with two
 * introspecting clients (client_secret_basic and private_key_jwt), a confidential app for it that
 * uses the test redirect URI (logIn()), and the example web app's client when `appOrigin` is given.
 */
export async function rsConfig(options: RsConfigOptions = {}): Promise<RsConfig> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const ordersApiJwtKey = { ...(await exportJWK(privateKey)), alg: 'ES256', kid: 'orders-api-jwt-1' };
  const publicJwk = { ...(await exportJWK(publicKey)), alg: 'ES256', kid: 'orders-api-jwt-1', use: 'sig' };
  const base = testFileConfig();
  const app = options.appOrigin;
  const file = parseFileConfig({
    ...base,
    scopes: { ...base.scopes, 'orders:read': 'Read your orders', 'orders:write': 'Place orders', 'brief:read': 'Read briefly' },
    resourceServers: [
      ...base.resourceServers,
      { audience: ORDERS_API, name: 'Orders API', scopes: ['orders:read', 'orders:write'], claims: ['email', 'preferred_username'], introspectors: ['orders-api', 'orders-api-jwt'] },
      { audience: BRIEF_API, name: 'Brief API', scopes: ['brief:read'], introspectors: ['orders-api'], accessTokenTTL: 1 },
    ],
    clients: [
      ...base.clients,
      { client_id: 'orders-api', client_secret: RS_SECRETS.ordersApi, grant_types: [] },
      { client_id: 'svc-orders', client_secret: RS_SECRETS.svcOrders, grant_types: ['client_credentials'], scope: 'orders:read brief:read', resources: [ORDERS_API, BRIEF_API] },
      { client_id: 'orders-api-jwt', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk] }, grant_types: [] },
      {
        client_id: 'orders-web',
        client_name: 'Orders Web',
        client_secret: RS_SECRETS.ordersWeb,
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: [REDIRECT_URI],
        scope: 'openid email offline_access orders:read orders:write',
        resources: [ORDERS_API],
      },
      ...(app
        ? [
            {
              client_id: 'demo-web',
              client_name: 'Demo Web App',
              client_secret: RS_SECRETS.demoWeb,
              grant_types: ['authorization_code', 'refresh_token'],
              redirect_uris: [`${app}/callback`],
              post_logout_redirect_uris: [`${app}/`],
              backchannel_logout_uri: `${app}/backchannel-logout`,
              scope: 'openid profile email offline_access orders:read orders:write',
              resources: [ORDERS_API],
            },
          ]
        : []),
    ],
  });
  return { file, ordersApiJwtKey };
}
