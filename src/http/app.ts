import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider from 'oidc-provider';
import type { RedisClient } from '../../adapters/redis/connect.js';
import { redisAdapterFactory } from '../../adapters/redis/redis-adapter.js';
import { RedisStore } from '../../adapters/redis/redis-store.js';
import { AccountStore } from '../accounts/account-store.js';
import { LoginThrottle } from '../accounts/login-throttle.js';
import { RolePolicy } from '../accounts/role-policy.js';
import type { LatchConfig } from '../config/load.js';
import { configWarnings } from '../config/warnings.js';
import { interactionRoutes } from '../interactions/interaction-routes.js';
import { ClientAuthenticator } from '../introspection/client-authenticator.js';
import { introspectionEndpoint } from '../introspection/introspection-endpoint.js';
import { Introspector } from '../introspection/introspect.js';
import { JwtResponder } from '../introspection/jwt-response.js';
import type { Logger } from '../log/logger.js';
import { providerConfiguration } from '../provider/configuration.js';
import { ResourceServers } from '../provider/resource-servers.js';
import { AuditLog } from '../admin/audit-log.js';
import { TravelGuard } from '../anomaly/impossible-travel.js';
import { LocationResolver } from '../anomaly/location.js';
import { adminRoutes } from '../admin/admin-routes.js';
import { accountRoutes } from '../interactions/account-routes.js';
import { EventPublisher } from '../revocation/events.js';
import { Revocations } from '../revocation/revocations.js';
import { rateLimit } from '../rate-limit/rate-limit.js';
import { RateLimiter } from '../rate-limit/rate-limiter.js';
import { RateLimits } from '../rate-limit/rate-limits.js';
import { redisCounters } from '../rate-limit/redis-counters.js';
import { revocationEvents } from './revocation-events.js';
import { rfcErrorCodes } from './rfc-error-codes.js';
import { errorHandler } from './error-handler.js';
import { warnIfEvicting } from './eviction-check.js';
import { health } from './health.js';
import { LatchMetrics } from './metrics.js';
import { opsListener } from './ops-server.js';
import { requestLog } from './request-log.js';
import { secureCookiesAlways } from './secure-cookies.js';
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
  metrics: LatchMetrics;
  store: RedisStore;
  accounts: AccountStore;
  revocations: Revocations;
  audit: AuditLog;
  introspector: Introspector;
  /** Rate limits (docs/operations.md); `rateLimits.close()` stops their background sync. */
  rateLimits: RateLimits;
  /** The Node request listener (`http.createServer(latch.callback)`). */
  callback: (req: IncomingMessage, res: ServerResponse) => void;
  /** The operations listener's (`/readyz`, `/metrics`, `/healthz`: ops-server.ts), for LATCH_OPS_PORT. */
  ops: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * Assembles Latch: oidc-provider (itself a Koa app) with Latch's middleware in front of its routes.
 * Request order: log → error handler → security headers → health → rate limits → assets →
 * RFC error codes → revocation events → admin API → devices page → interactions → oidc-provider's
 * routes. `POST /introspect` goes to the lean handler first (its own rate limits, then Koa for rare cases).
 */
export function createLatch(config: LatchConfig, redis: RedisClient, logger: Logger, options: LatchOptions = {}): Latch {
  for (const warning of configWarnings(config)) logger.warn({ field: warning.field }, warning.message);
  void warnIfEvicting(redis, logger);
  const store = new RedisStore(redis, config.secrets.tokenHashKey);
  store.deadlineMs = config.redisCommandTimeoutMs;
  const metrics = new LatchMetrics();
  store.onError = () => metrics.redisErrors.inc();
  store.onLatency = (seconds) => metrics.redisLatency.observe(seconds);
  const accounts = new AccountStore(store);
  const resourceServers = new ResourceServers(config.file);
  const events = new EventPublisher(store);
  events.onPublish = (event) => {
    if (event.type === 'revocation') metrics.revocations.inc({ scope: event.scope });
  };
  const revocations = new Revocations(store, events, logger);
  const audit = new AuditLog(store);
  const roles = new RolePolicy(config.file.roles);
  const travel = new TravelGuard(store, config.file.impossibleTravel);
  const introspector = new Introspector({ store, issuer: config.issuer, resourceServers, roles });
  const adapter = redisAdapterFactory(store, {
    grantRevoked: ({ accountId, clientId }) => {
      revocations
        .announce('grant', { sub: accountId, client_id: clientId }, { actor: 'latch', reason: 'refresh token reuse' })
        .catch((err: Error) => logger.warn({ err: err.message }, 'could not publish revocation event'));
    },
  });
  const provider = new Provider(config.issuer, providerConfiguration({ config, accounts, resourceServers, adapter }));

  if (config.trustedProxies > 0) {
    provider.proxy = true;
    provider.maxIpsCount = config.trustedProxies;
  }
  if (config.production) secureCookiesAlways(provider);

  const rateLimits = new RateLimits(new RateLimiter(config.file.rateLimits, redisCounters(store), logger), config.file.rateLimits, {
    trustedProxies: config.trustedProxies,
    metrics,
  });
  // The background sync ends with its Redis connection (whoever closes it).
  redis.once('end', () => rateLimits.close());

  const redirectOrigins = [...new Set(config.file.clients.flatMap((c) => c.redirect_uris.map((u) => new URL(u).origin)))];

  provider.use(requestLog(logger, metrics));
  provider.use(errorHandler(logger));
  provider.use(securityHeaders(redirectOrigins));
  provider.use(health());
  provider.use(rateLimit(rateLimits));
  provider.use(staticAssets);
  provider.use(rfcErrorCodes);
  provider.use(revocationEvents(revocations, logger));
  provider.use(adminRoutes({ provider, introspector, revocations, audit, accounts, logger, roles, travel, rateLimits }));
  provider.use(accountRoutes(provider, accounts, revocations));
  provider.use(
    interactionRoutes({
      provider, accounts, revocations, audit, file: config.file,
      locations: new LocationResolver(config.file.geo),
      travel,
      throttle: new LoginThrottle(store, config.file.loginThrottle),
      rateLimits,
    }),
  );

  provider.on('server_error', (ctx, err) => {
    logger.error({ reqId: ctx.state?.requestId, err: { name: err.name, message: err.message, stack: err.stack } }, 'provider server error');
  });
  provider.on('grant.revoked', (ctx) => {
    // Refresh token reuse (RFC 9700 §4.14.2): oidc-provider revoked the whole grant.
    if (ctx.oidc.route !== 'token') return;
    const token = ctx.oidc.entities.RefreshToken;
    revocations
      .announce('grant', { sub: token?.accountId, client_id: token?.clientId }, { actor: 'latch', reason: 'refresh token reuse' })
      .catch((err: Error) => logger.warn({ err: err.message }, 'could not publish revocation event'));
  });
  provider.on('grant.success', (ctx) => {
    const token = ctx.oidc.entities.AccessToken;
    if (!token?.accountId || !token.grantId) return;
    revocations
      .touchDevice(token.accountId, token.grantId, { last_used_at: Date.now() })
      .catch((err: Error) => logger.warn({ err: err.message }, 'could not record device use'));
  });

  const koa = provider.callback() as unknown as Latch['callback'];
  const latch = { provider, store, accounts, revocations, audit, introspector, metrics, rateLimits, ops: opsListener(store, metrics) };
  if (options.leanIntrospection === false) return { ...latch, callback: koa };

  const jwt = {
    responder: new JwtResponder(config.secrets.jwks, config.issuer),
    algs: new Map(config.file.clients.flatMap((c) => (c.introspection_signed_response_alg ? [[c.client_id, c.introspection_signed_response_alg] as const] : []))),
  };
  const introspect = introspectionEndpoint(introspector, new ClientAuthenticator(config.file.clients), jwt, logger, metrics, rateLimits, koa);
  const callback: Latch['callback'] = (req, res) => {
    const url = req.url ?? '';
    if (req.method === 'POST' && (url === '/introspect' || url.startsWith('/introspect?'))) return introspect(req, res);
    return koa(req, res);
  };
  return { ...latch, callback };
}
