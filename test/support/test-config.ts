import type { RedisTarget } from '../../src/config/redis-target.js';
import { generateKeyPair, exportJWK } from 'jose';
import { parseFileConfig, type LatchConfig } from '../../src/config/load.js';

export const API_A = 'https://a.api.test';
export const API_B = 'https://b.api.test';
/** The admin API is a resource server like any other (see docs/admin-api.md). */
export const ADMIN_API = 'urn:latch:admin';
export const REDIRECT_URI = 'http://127.0.0.1:9/callback';

export const SECRETS = {
  web: 'web-client-secret-0123456789abcdef0123',
  svc: 'svc-client-secret-0123456789abcdef0123',
  apiA: 'api-a-secret-0123456789abcdef01234567',
  apiB: 'api-b-secret-0123456789abcdef01234567',
  other: 'other-client-secret-0123456789abcdef0',
  admin: 'security-admin-secret-0123456789abcdef',
  auditor: 'auditor-secret-0123456789abcdef012345',
};

export const ALICE = { username: 'alice', password: 'alice-password-1' };

/** The config every server test runs with: two APIs, their introspecting clients, and users. */
export const testFileConfig = () =>
  parseFileConfig({
    // Default budgets, but counts kept per instance: tests that watch Redis with MONITOR
    // (live-permissions) see only request-path commands. test/rate-limit/ covers the sharing.
    rateLimits: { syncIntervalMs: 0 },
    scopes: { 'a:read': 'Read A', 'a:write': 'Write A', 'b:read': 'Read B', 'admin:read': 'Read security data', 'admin:write': 'Revoke access' },
    roles: { viewer: ['a:read'], editor: ['a:read', 'a:write'] },
    geo: {
      edgeHeaders: { latitude: 'cf-iplatitude', longitude: 'cf-iplongitude', city: 'cf-ipcity', country: 'cf-ipcountry' },
      networks: [
        { cidr: '81.2.69.0/24', latitude: 51.5074, longitude: -0.1278, place: 'London, GB' },
        { cidr: '1.0.16.0/24', latitude: 35.6762, longitude: 139.6503, place: 'Tokyo, JP' },
        { cidr: '2.2.2.0/24', latitude: 48.8566, longitude: 2.3522, place: 'Paris, FR' },
      ],
      geoipLite: false,
    },
    resourceServers: [
      { audience: API_A, name: 'API A', scopes: ['a:read', 'a:write'], claims: ['email', 'username'], introspectors: ['api-a'] },
      { audience: API_B, name: 'API B', scopes: ['b:read'], introspectors: ['api-b'] },
      { audience: ADMIN_API, name: 'Latch admin API', scopes: ['admin:read', 'admin:write'] },
    ],
    clients: [
      {
        client_id: 'web',
        client_name: 'Web App',
        client_secret: SECRETS.web,
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: [REDIRECT_URI],
        post_logout_redirect_uris: ['http://127.0.0.1:9/'],
        scope: 'openid profile email offline_access a:read a:write b:read',
        resources: [API_A, API_B],
      },
      {
        client_id: 'other-web',
        client_name: 'Other App',
        client_secret: SECRETS.other,
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: [REDIRECT_URI],
        scope: 'openid offline_access a:read',
        resources: [API_A],
      },
      {
        client_id: 'spa',
        client_name: 'Public App',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: [REDIRECT_URI],
        scope: 'openid offline_access a:read',
        resources: [API_A],
      },
      {
        client_id: 'svc',
        client_secret: SECRETS.svc,
        grant_types: ['client_credentials'],
        scope: 'a:read b:read',
        resources: [API_A, API_B],
      },
      {
        client_id: 'security-admin',
        client_secret: SECRETS.admin,
        grant_types: ['client_credentials'],
        scope: 'admin:read admin:write',
        resources: [ADMIN_API],
      },
      { client_id: 'auditor', client_secret: SECRETS.auditor, grant_types: ['client_credentials'], scope: 'admin:read', resources: [ADMIN_API] },
      { client_id: 'api-a', client_secret: SECRETS.apiA, grant_types: [], introspection_signed_response_alg: 'RS256' },
      { client_id: 'api-b', client_secret: SECRETS.apiB, grant_types: [] },
    ],
    accounts: [
      { sub: 'sub-alice', ...ALICE, email: 'alice@example.test', name: 'Alice', roles: ['viewer'] },
      { sub: 'sub-bob', username: 'bob', password: 'bob-password-12', roles: [] },
    ],
  });

let signingKey: Promise<Record<string, unknown>> | undefined;

/** A full LatchConfig for `issuer`, with fixed test keys. */
export async function testConfig(issuer: string, redis: RedisTarget | string): Promise<LatchConfig> {
  signingKey ??= generateKeyPair('RS256', { extractable: true }).then(async ({ privateKey }) => ({
    ...(await exportJWK(privateKey)),
    alg: 'RS256',
    use: 'sig',
    kid: 'test-key',
  }));
  return {
    port: 0,
    opsPort: 0,
    opsHost: '127.0.0.1',
    issuer,
    redis: typeof redis === 'string' ? { kind: 'single', url: redis } : redis,
    workers: 1,
    production: false,
    logLevel: 'silent',
    trustedProxies: 0,
    redisStartupTimeoutMs: 5000,
    redisCommandTimeoutMs: 1000,
    configFile: '(test)',
    file: testFileConfig(),
    secrets: {
      jwks: { keys: [await signingKey] },
      cookieKeys: ['test-cookie-key-0123456789abcdef0123456789'],
      tokenHashKey: Buffer.from('test-token-hash-key-0123456789abcdef'),
      dpopNonceSecret: Buffer.alloc(32, 'test-dpop-nonce-secret'),
      generated: false,
    },
  };
}
