import { API, API_SCOPE, CLIENTS } from './bench-config.js';
import { startServer, type ChildServer } from './child-server.js';
import type { BenchContext } from './context.js';
import { EXAMPLE_APP_MODULE, RESOURCE_SERVER_MODULE } from './dependencies.js';

export type RsMode = 'introspect' | 'cached' | 'jwt';

/** Starts the example API (bench/servers/rs-api.ts) in one of its three token-checking modes. */
export function startRsApi(ctx: BenchContext, mode: RsMode, issuer: string): Promise<ChildServer> {
  return startServer('rs-api', {
    mode,
    issuer,
    audience: API,
    scope: API_SCOPE,
    introspector: CLIENTS.introspector,
    redisUrl: ctx.redis.url,
    publicJwk: ctx.secrets.publicJwk,
    resourceServerModule: RESOURCE_SERVER_MODULE,
    exampleAppModule: EXAMPLE_APP_MODULE,
  });
}
