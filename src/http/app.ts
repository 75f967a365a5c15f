import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider from 'oidc-provider';
import type { Redis } from 'ioredis';
import { redisAdapterFactory } from '../../adapters/redis/redis-adapter.js';
import { RedisStore } from '../../adapters/redis/redis-store.js';
import { AccountStore } from '../accounts/account-store.js';
import type { LatchConfig } from '../config/load.js';
import { interactionRoutes } from '../interactions/interaction-routes.js';
import { ClientAuthenticator } from '../introspection/client-authenticator.js';
import { introspectionEndpoint } from '../introspection/introspection-endpoint.js';
import { Introspector } from '../introspection/introspect.js';
import type { Logger } from '../log/logger.js';
import { providerConfiguration } from '../provider/configuration.js';
import { ResourceServers } from '../provider/resource-servers.js';
import { rfcErrorCodes } from './rfc-error-codes.js';
import { errorHandler } from './error-handler.js';
import { health } from './health.js';
import { requestLog } from './request-log.js';
import { securityHeaders } from './security-headers.js';
import { staticAssets } from './static-assets.js';

export interface LatchOptions {
  /**
   * Serve `POST /introspect` with the lean handler (default). `false` leaves it to oidc-provider's
   * own route: used by the differential test and the benchmark's stock reference.
   */
  leanIntrospection?: boolean;
}

export interface Latch {
  provider: Provider;
  store: RedisStore;
  accounts: AccountStore;
  /** The Node request listener (`http.createServer(latch.callback)`). */
  callback: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * Assembles Latch: oidc-provider (itself a Koa app) with Latch's middleware in front of its routes.
 * Request order: log → error handler → security headers → health → assets → interactions → provider.
 */
export function createLatch(config: LatchConfig, redis: Redis, logger: Logger, options: LatchOptions = {}): Latch {
  const store = new RedisStore(redis, config.secrets.tokenHashKey);
  const accounts = new AccountStore(store);
  const resourceServers = new ResourceServers(config.file);
  const adapter = redisAdapterFactory(store);
  const provider = new Provider(config.issuer, providerConfiguration({ config, accounts, resourceServers, adapter }));

  if (config.trustedProxies > 0) {
    provider.proxy = true;
    provider.maxIpsCount = config.trustedProxies;
  }

  const redirectOrigins = [...new Set(config.file.clients.flatMap((c) => c.redirect_uris.map((u) => new URL(u).origin)))];

  provider.use(requestLog(logger));
  provider.use(errorHandler(logger));
  provider.use(securityHeaders(redirectOrigins));
  provider.use(health(store));
  provider.use(staticAssets);
  provider.use(rfcErrorCodes);
  provider.use(interactionRoutes(provider, accounts, config.file));

  provider.on('server_error', (ctx, err) => {
    logger.error({ reqId: ctx.state?.requestId, err: { name: err.name, message: err.message, stack: err.stack } }, 'provider server error');
  });

  const koa = provider.callback() as unknown as Latch['callback'];
  if (options.leanIntrospection === false) return { provider, store, accounts, callback: koa };

  const introspector = new Introspector({ store, issuer: config.issuer, resourceServers });
  const introspect = introspectionEndpoint(introspector, new ClientAuthenticator(config.file.clients), logger, koa);
  const callback: Latch['callback'] = (req, res) => {
    const url = req.url ?? '';
    if (req.method === 'POST' && (url === '/introspect' || url.startsWith('/introspect?'))) return introspect(req, res);
    return koa(req, res);
  };
  return { provider, store, accounts, callback };
}
