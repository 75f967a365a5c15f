import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import Provider, { type JWK } from 'oidc-provider';
import { plainRedisAdapter } from './plain-redis-adapter.js';
import { listenAndReport, serverOptions } from './serve.js';

interface Options {
  redisUrl: string;
  audience: string;
  scope: string;
  jwks: { keys: JWK[] };
  /** [client_id, secret] of the client that gets tokens, and of the resource server that introspects. */
  tokenClient: [string, string];
  introspector: [string, string];
}

/**
 * Stock oidc-provider: what a user gets deploying oidc-provider without Latch. Opaque access
 * tokens for one audience via client credentials, introspected at oidc-provider's own route.
 */
const options = serverOptions<Options>();
const redis = new Redis(options.redisUrl, { enableAutoPipelining: true, keyPrefix: 'stock:' });
const server = createServer();

await listenAndReport(
  server,
  async (issuer) => {
    const provider = new Provider(issuer, {
      adapter: plainRedisAdapter(redis),
      jwks: options.jwks,
      clients: [
        { client_id: options.tokenClient[0], client_secret: options.tokenClient[1], grant_types: ['client_credentials'], redirect_uris: [], response_types: [], scope: options.scope },
        { client_id: options.introspector[0], client_secret: options.introspector[1], grant_types: [], redirect_uris: [], response_types: [] },
      ],
      scopes: [options.scope],
      features: {
        devInteractions: { enabled: false },
        introspection: { enabled: true },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: async () => options.audience,
          useGrantedResource: async () => true,
          getResourceServerInfo: async () => ({ scope: options.scope, audience: options.audience, accessTokenTTL: 3600, accessTokenFormat: 'opaque' }),
        },
      },
    });
    server.on('request', provider.callback());
  },
  async () => {
    redis.disconnect();
  },
);
