import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

/** The API every scenario protects, and the principals that use it. */
export const API = 'https://orders.bench.test';
export const API_SCOPE = 'orders:read';
export const ADMIN_API = 'urn:latch:admin';
/** Token exchange targets (bench/scenarios/token-exchange.ts): an internal JWT audience and another API. */
export const INTERNAL_JWT_AUDIENCE = 'urn:bench:internal-orders';
export const HISTORY_API = 'https://history.bench.test';
export const REDIRECT_URI = 'http://127.0.0.1:9/callback';

export const CLIENTS = {
  /** Gets tokens by client credentials (the token most scenarios introspect). */
  svc: ['svc', 'svc-client-secret-0123456789abcdef0123'],
  /** Logs users in (authorization code) for the revocation scenarios. */
  web: ['web', 'web-client-secret-0123456789abcdef0123'],
  /** The API's own credentials: the resource server that introspects. */
  introspector: ['orders-api', 'orders-api-secret-0123456789abcdef0123'],
  /** Calls the admin API (kill switch). */
  admin: ['security-admin', 'security-admin-secret-0123456789abcdef'],
  /** A gateway in front of the API: introspects its tokens and exchanges them (RFC 8693). */
  gateway: ['gateway', 'gateway-client-secret-0123456789abcdef01'],
} as const satisfies Record<string, readonly [string, string]>;

/** Accounts: one per destructive step, so a revoke never affects a later measurement. */
export const USERS = {
  propagationUncached: { sub: 'sub-uma', username: 'uma', password: 'uma-password-123' },
  propagationCached: { sub: 'sub-carl', username: 'carl', password: 'carl-password-12' },
  revokeAllSmall: { sub: 'sub-sam', username: 'sam', password: 'sam-password-123' },
  revokeAllLarge: { sub: 'sub-lara', username: 'lara', password: 'lara-password-12' },
  /** Subject of the token exchange scenario's exchanges. */
  exchange: { sub: 'sub-xena', username: 'xena', password: 'xena-password-123' },
  /** Owner of the filler tokens of the storage scenario. */
  filler: { sub: 'sub-filler', username: 'filler', password: 'filler-password-1' },
} as const;

/**
 * Owners of the storage scenario's million filler tokens. Real accounts: introspection answers
 * inactive for a token whose account no longer exists.
 */
export const FILLER_ACCOUNTS = Array.from({ length: 20 }, (_, i) => ({ sub: `sub-fill-${i}`, username: `fill-${i}`, password: `fill-password-${i}-0123` }));

/**
 * Rate-limit budgets per window far above what the bench sends: every request comes from one
 * address and a few clients (~12k introspections/s, the soak's token traffic), which the default
 * budgets would refuse. The limiter still counts and syncs every request, so its cost is measured.
 */
const BENCH_BUDGET = 1_000_000_000;

/** The JSON config file (LATCH_CONFIG) Latch runs with in the bench. */
export function latchFileConfig() {
  const budget = { perClient: BENCH_BUDGET, perAddress: BENCH_BUDGET };
  return {
    rateLimits: {
      introspection: budget, token: budget, revocation: budget, login: { perAddress: BENCH_BUDGET },
      authorization: { perAddress: BENCH_BUDGET }, endSession: { perAddress: BENCH_BUDGET }, admin: budget,
    },
    scopes: { [API_SCOPE]: 'Read orders', 'admin:read': 'Read security data', 'admin:write': 'Revoke access' },
    resourceServers: [
      { audience: API, name: 'Orders (bench)', scopes: [API_SCOPE], claims: [], introspectors: [CLIENTS.introspector[0], CLIENTS.gateway[0]], accessTokenTTL: 3600 },
      { audience: HISTORY_API, name: 'Order history (bench)', scopes: [API_SCOPE], claims: [], introspectors: [], accessTokenTTL: 600 },
      { audience: ADMIN_API, name: 'Latch admin API', scopes: ['admin:read', 'admin:write'] },
    ],
    clients: [
      { client_id: CLIENTS.svc[0], client_secret: CLIENTS.svc[1], grant_types: ['client_credentials'], scope: API_SCOPE, resources: [API] },
      {
        client_id: CLIENTS.web[0],
        client_secret: CLIENTS.web[1],
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: [REDIRECT_URI],
        scope: `openid offline_access ${API_SCOPE}`,
        resources: [API],
      },
      { client_id: CLIENTS.introspector[0], client_secret: CLIENTS.introspector[1], grant_types: [] },
      {
        client_id: CLIENTS.gateway[0],
        client_secret: CLIENTS.gateway[1],
        grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'],
        token_exchange: { audiences: [INTERNAL_JWT_AUDIENCE, HISTORY_API] },
      },
      { client_id: CLIENTS.admin[0], client_secret: CLIENTS.admin[1], grant_types: ['client_credentials'], scope: 'admin:read admin:write', resources: [ADMIN_API] },
    ],
    tokenExchange: { jwtAudiences: [{ audience: INTERNAL_JWT_AUDIENCE, name: 'Internal orders (bench)', scopes: [API_SCOPE], ttlSeconds: 60 }] },
    accounts: [...Object.values(USERS), ...FILLER_ACCOUNTS].map((u) => ({ ...u, roles: [] })),
    ttl: { clientCredentials: 3600 },
  };
}

export interface BenchSecrets {
  jwks: { keys: JWK[] };
  publicJwk: JWK;
  privateKey: CryptoKey;
  cookieKey: string;
  /** LATCH_TOKEN_HASH_KEY (utf8); the bench needs it to write records in the adapter's format. */
  tokenHashKey: string;
  /** LATCH_DPOP_NONCE_SECRET: every instance of a multi-instance run hands out the same nonces. */
  dpopNonceSecret: string;
}

export async function benchSecrets(): Promise<BenchSecrets> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = 'bench-key';
  return {
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid }] },
    publicJwk: { ...(await exportJWK(publicKey)), alg: 'RS256', use: 'sig', kid },
    privateKey,
    cookieKey: randomBytes(32).toString('base64url'),
    tokenHashKey: randomBytes(32).toString('base64url'),
    dpopNonceSecret: randomBytes(32).toString('base64url'),
  };
}
