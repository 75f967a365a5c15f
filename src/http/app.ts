import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider from 'oidc-provider';
import type { RedisClient } from '../../adapters/redis/connect.js';
import { redisAdapterFactory } from '../../adapters/redis/redis-adapter.js';
import { RedisStore } from '../../adapters/redis/redis-store.js';
import { AccountStore } from '../accounts/account-store.js';
import { LoginThrottle } from '../accounts/login-throttle.js';
import { RolePolicy } from '../accounts/role-policy.js';
import type { LatchConfig } from '../config/load.js';
import { interactionRoutes } from '../interactions/interaction-routes.js';
import { ClientAuthenticator } from '../introspection/client-authenticator.js';
import { introspectionEndpoint } from '../introspection/introspection-endpoint.js';
import { Introspector } from '../introspection/introspect.js';
import { JwtResponder } from '../introspection/jwt-response.js';
import type { Logger } from '../log/logger.js';
import { providerConfiguration } from '../provider/configuration.js';
import { ResourceServers } from '../provider/resource-servers.js';
import { keepScopesInStep } from '../provider/provider-scopes.js';
import { ApiStore } from '../../adapters/redis/api-store.js';
import { ApiTable } from '../apis/api-table.js';
import { revocationHooks } from '../provider/revocation-hooks.js';
import { AuditLog } from '../admin/audit-log.js';
import { startBackchannelLogout, type Backchannel } from '../backchannel/backchannel.js';
import { TravelGuard } from '../anomaly/impossible-travel.js';
import { LocationResolver } from '../anomaly/location.js';
import { adminRoutes } from '../admin/admin-routes.js';
import { accountRoutes } from '../interactions/account-routes.js';
import { PasswordPolicy } from '../accounts/password-policy.js';
import { Credentials } from '../credentials/credentials.js';
import type { MailSender } from '../credentials/mail-sender.js';
import { passwordRoutes } from '../interactions/password-routes.js';
import { EventPublisher } from '../revocation/events.js';
import { Revocations } from '../revocation/revocations.js';
import { rateLimit } from '../rate-limit/rate-limit.js';
import { RateLimiter } from '../rate-limit/rate-limiter.js';
import { RateLimits } from '../rate-limit/rate-limits.js';
import { redisCounters } from '../rate-limit/redis-counters.js';
import { ConfigError } from '../config/config-error.js';
import { explainDpopGrantErrors } from '../dpop/grant-errors.js';
import { LatchProofs } from '../dpop/latch-proofs.js';
import { registerTokenExchange } from '../token-exchange/exchange-grant.js';
import { ExchangePolicy } from '../token-exchange/exchange-policy.js';
import { ExchangedJwts } from '../token-exchange/exchanged-jwt.js';
import { Outbound } from '../outbound/outbound.js';
import { sharedSignals, type SharedSignals } from '../ssf/shared-signals.js';
import { canonicalRoute, requestRoute } from './canonical-route.js';
import { rfcErrorCodes } from './rfc-error-codes.js';
import { errorHandler } from './error-handler.js';
import { health } from './health.js';
import { LatchMetrics } from './metrics.js';
import { opsListener } from './ops-server.js';
import { requestLog } from './request-log.js';
import { LiveUpdates } from '../live/live-updates.js';
import { ClientRecords } from '../../adapters/redis/client-records.js';
import { ClientAdapter, type ClientAdapterHooks } from '../clients/client-adapter.js';
import { ClientRegistry } from '../clients/client-registry.js';
import { ClientSecrets } from '../clients/client-secrets.js';
import { ClientService } from '../clients/client-service.js';
import { checkSecretsWithLatch } from '../clients/secret-hook.js';
import { InitialAccessTokens } from '../clients/initial-access-tokens.js';
import { registrationConfiguration } from '../clients/registration.js';
import { registrationGuard } from '../clients/registration-guard.js';
import { secureCookiesAlways } from './secure-cookies.js';
import { securityHeaders } from './security-headers.js';
import { staticAssets } from './static-assets.js';

export interface Latch {
  provider: Provider;
  metrics: LatchMetrics;
  store: RedisStore;
  accounts: AccountStore;
  /** Password changes, reset links, imports (src/credentials/). */
  credentials: Credentials;
  revocations: Revocations;
  audit: AuditLog;
  introspector: Introspector;
  /** Rate limits (docs/operations.md); `rateLimits.close()` stops their background sync. */
  rateLimits: RateLimits;
  /** The Node request listener (`http.createServer(latch.callback)`). */
  callback: (req: IncomingMessage, res: ServerResponse) => void;
  /** Every request Latch sends to a registered URL goes through it (src/outbound/: timeouts, the SSRF rule). */
  outbound: Outbound;
  /** The Shared Signals transmitter (src/ssf/), when the config has a resource server for `urn:latch:ssf`. */
  ssf: SharedSignals | undefined;
  /** Back-channel logout: the queue and this process's delivery loop (src/backchannel/). */
  backchannel: Backchannel;
  /** Announces managed clients and APIs changed, to every process of every instance (src/live/). */
  live: LiveUpdates;
  /** Every client, config and managed (src/clients/). */
  clients: ClientRegistry;
  /** Managed clients' lifecycle (admin API, registration). */
  clientService: ClientService;
  /** The resource-server table: the config's APIs and those registered at run time (src/provider/resource-servers.ts). */
  resourceServers: ResourceServers;
  /** Keeps `resourceServers` in step with the APIs stored in Redis (src/apis/); `apis.ready()` resolves once they are read. */
  apis: ApiTable;
  /** The operations listener's (`/readyz`, `/metrics`, `/healthz`: ops-server.ts), for LATCH_OPS_PORT. */
  ops: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * Assembles Latch: oidc-provider (itself a Koa app) with Latch's middleware in front of its routes.
 * Every request's route is resolved once (src/http/canonical-route.ts). `POST /introspect` goes to
 * the lean handler, which answers every introspection request itself; everything else to Koa:
 * log → error handler → security headers → route gate (variants of a path: 404) → health → rate
 * limits → assets → RFC error codes → admin API → Shared Signals → devices page → password pages → interactions → oidc-provider's
 * routes. Every grant or token oidc-provider kills (any route) is published from the adapter's hooks.
 */
export interface LatchOptions {
  /** Delivers reset and set-up links (src/credentials/mail-sender.ts); by default they go back to the admin caller. */
  mailSender?: MailSender;
}

export function createLatch(config: LatchConfig, redis: RedisClient, logger: Logger, options: LatchOptions = {}): Latch {
  // Configuration errors first: nothing is connected or started yet when one is thrown.
  const responder = new JwtResponder(config.secrets.jwks, config.issuer);
  const introspectionSigningAlgs = responder.supported();
  config.file.clients.forEach((client, i) => {
    const alg = client.introspection_signed_response_alg;
    if (alg && !introspectionSigningAlgs.includes(alg)) {
      throw new ConfigError(`${config.configFile}: clients[${i}].introspection_signed_response_alg`, `LATCH_JWKS has no signing key for ${alg}`);
    }
  });
  config.file.tokenExchange.jwtAudiences.forEach((audience, i) => {
    if (audience.alg ? !introspectionSigningAlgs.includes(audience.alg) : introspectionSigningAlgs.length === 0) {
      throw new ConfigError(`${config.configFile}: tokenExchange.jwtAudiences[${i}].alg`, `LATCH_JWKS has no signing key for ${audience.alg ?? 'any JWS algorithm'}`);
    }
  });
  const store = new RedisStore(redis, config.secrets.tokenHashKey);
  store.deadlineMs = config.redisCommandTimeoutMs;
  store.useDirectFetch();
  const metrics = new LatchMetrics();
  store.onError = () => metrics.redisErrors.inc();
  store.onLatency = (seconds) => metrics.redisLatency.observe(seconds);
  const accounts = new AccountStore(store);
  const resourceServers = new ResourceServers(config.file);
  const live = new LiveUpdates(store, logger);
  redis.once('end', () => live.close());
  // APIs registered at run time: read now, and again on every instance whenever one changes.
  const apiStore = new ApiStore(store);
  const apis = new ApiTable(apiStore, resourceServers, live, logger);
  redis.once('end', () => apis.close());
  const events = new EventPublisher(store);
  events.onPublish = (event) => {
    if (event.type === 'revocation') metrics.revocations.inc({ scope: event.scope });
  };
  const revocations = new Revocations(store, events, logger);
  const audit = new AuditLog(store);
  const roles = new RolePolicy(config.file.roles);
  const travel = new TravelGuard(store, config.file.impossibleTravel);
  const credentials = new Credentials({
    store, accounts, revocations, audit, issuer: config.issuer, policy: new PasswordPolicy(config.file.passwords),
    resetLinkTTL: config.file.passwords.resetLinkTTL, mailSender: options.mailSender,
  });
  const throttle = new LoginThrottle(store, config.file.loginThrottle);
  const introspector = new Introspector({ store, issuer: config.issuer, resourceServers, roles });
  // Clients: the config's, and those managed at run time (src/clients/), which oidc-provider reads
  // through the adapter's Client model. Any change, on any instance, drops this process's copies.
  const clientSecrets = new ClientSecrets(store.keys);
  const clients = new ClientRegistry(config.file.clients, new ClientRecords(store), clientSecrets);
  live.on('client', (id) => clients.drop(id));
  const refreshOrigins = () => clients.refreshOrigins().catch((err: Error) => logger.warn({ err: err.message }, 'could not re-read the clients\' redirect origins (CSP form-action)'));
  clients.onDrop(() => void refreshOrigins());
  void refreshOrigins();
  const clientHooks: ClientAdapterHooks = { changed: async () => {}, destroy: async () => {} };
  const clientAdapter = new ClientAdapter(clients, store.keys, clientHooks);
  const baseAdapter = redisAdapterFactory(store, revocationHooks(revocations, logger));
  const adapter = (model: string) => (model === 'Client' ? clientAdapter : baseAdapter(model));
  const initialAccessTokens = new InitialAccessTokens(store, resourceServers);
  const registration = registrationConfiguration({
    file: config.file, resourceServers, introspectionSigningAlgs, production: config.production, registry: clients, initialAccessTokens,
  });
  const provider = new Provider(config.issuer, providerConfiguration({ config, accounts, resourceServers, adapter, introspectionSigningAlgs, registration }));
  keepScopesInStep(provider, resourceServers);
  // Open registration takes no initial access tokens (registration.openPolicy applies to all).
  if (config.file.registration.enabled && !config.file.registration.open) initialAccessTokens.bind(provider);
  // /token and /revoke check secrets with the same function as /introspect (secret-hook.ts).
  checkSecretsWithLatch(provider, clients);
  const clientService = new ClientService({
    provider, resourceServers, file: config.file, introspectionSigningAlgs, production: config.production, registry: clients, revocations, live,
  });
  // What RFC 7591/7592 write through the Client adapter is audited and announced like an admin write;
  // a client deleting itself goes through the same delete (its tokens revoked first).
  clientHooks.changed = async (clientId, created) => {
    await live.publish('client', clientId);
    const entry = await audit.append({
      actor: created ? 'registration' : `client:${clientId}`, action: created ? 'register-client' : 'update-client-registration', target: `client:${clientId}`,
      reason: created ? 'dynamic client registration (RFC 7591)' : 'client update with its registration access token (RFC 7592)', count: 0,
    });
    logger.info({ action: created ? 'register-client' : 'update-client-registration', target: clientId, audit: entry.id }, 'client registration');
  };
  clientHooks.destroy = async (clientId) => {
    const actor = `client:${clientId}`;
    const reason = 'client deleted with its registration access token (RFC 7592)';
    const result = await clientService.delete(clientId, { actor, reason });
    await audit.append({ actor, action: 'delete-client', target: `client:${clientId}`, reason, count: result.tokens });
  };
  // RFC 8693 at /token: exchanged tokens judged by the same Introspector as every /introspect.
  const defaultJwtAlg = introspectionSigningAlgs.includes('RS256') ? 'RS256' : introspectionSigningAlgs[0];
  registerTokenExchange(provider, { introspector, policy: new ExchangePolicy(config.file, defaultJwtAlg, resourceServers), jwts: new ExchangedJwts(responder, config.issuer) });

  if (config.trustedProxies > 0) {
    provider.proxy = true;
    provider.maxIpsCount = config.trustedProxies;
  }
  if (config.production) secureCookiesAlways(provider);
  explainDpopGrantErrors(provider);

  const rateLimits = new RateLimits(new RateLimiter(config.file.rateLimits, redisCounters(store), logger), config.file.rateLimits, {
    trustedProxies: config.trustedProxies,
    metrics,
  });
  // The background sync ends with its Redis connection (whoever closes it).
  redis.once('end', () => rateLimits.close());
  const outbound = new Outbound({
    // Development talks to apps on this machine; production refuses private targets unless told (docs/config.md#outbound).
    allowPrivateNetworks: config.file.outbound.allowPrivateNetworks ?? !config.production,
    // The operator's own back-channel URIs may point inside the operator's network.
    operatorUrls: config.file.clients.flatMap((c) => (c.backchannel_logout_uri ? [c.backchannel_logout_uri] : [])),
    timeoutMs: config.file.outbound.timeoutMs,
  });
  const ssf = sharedSignals({
    issuer: config.issuer, production: config.production, config: config.file.ssf, store, introspector, outbound, pushTimeoutMs: config.file.outbound.timeoutMs,
    // The config's APIs only: urn:latch:ssf is never registered at run time (api-admin-routes.ts reserves urn:latch:).
    jwks: config.secrets.jwks, registry: metrics.registry, logger, audiences: config.file.resourceServers.map((rs) => rs.audience),
  });
  if (ssf) {
    // Every event published becomes SETs on the streams that take them, in the same request.
    events.addSink((event) => ssf.publish(event));
    redis.once('end', () => void ssf.close());
  }
  const backchannel = startBackchannelLogout({ config, store, provider, revocations, audit, outbound, responder, registry: metrics.registry, logger });
  // Deliveries and pushes under way finish before the sender closes.
  redis.once('end', () => void backchannel.stop().then(() => outbound.close()));

  provider.use(requestLog(logger, metrics));
  provider.use(errorHandler(logger));
  // Where a form post on Latch's pages may end up: the clients' callbacks (consent) and their
  // post-logout pages (logout confirmation), whatever their origin; re-read when a client changes.
  provider.use(securityHeaders(() => clients.origins()));
  provider.use(canonicalRoute);
  provider.use(health());
  provider.use(rateLimit(rateLimits));
  provider.use(staticAssets);
  provider.use(rfcErrorCodes);
  provider.use(registrationGuard);
  provider.use(adminRoutes({ clients: clientService, initialAccessTokens, provider, introspector, revocations, audit, accounts, credentials, store, logger, roles, travel, rateLimits, proofs: new LatchProofs(store, config.issuer),
    apis: { store: apiStore, resourceServers, table: apis, live, jwtAudiences: config.file.tokenExchange.jwtAudiences.map((a) => a.audience), clientExists: async (id: string) => (await clients.find(id)) !== undefined },
  }));
  if (ssf) provider.use(ssf.routes);
  provider.use(accountRoutes(provider, accounts, revocations));
  provider.use(passwordRoutes({ provider, accounts, credentials, throttle, rateLimits, sessionTTL: config.file.ttl.session }));
  provider.use(
    interactionRoutes({
      provider, accounts, credentials, revocations, audit, file: config.file,
      locations: new LocationResolver(config.file.geo),
      travel,
      throttle,
      rateLimits,
    }),
  );

  provider.on('server_error', (ctx, err) => {
    logger.error({ reqId: ctx.state?.requestId, err: { name: err.name, message: err.message, stack: err.stack } }, 'provider server error');
  });
  provider.on('grant.success', (ctx) => {
    const token = ctx.oidc.entities.AccessToken;
    if (!token?.accountId || !token.grantId) return;
    revocations
      .touchDevice(token.accountId, token.grantId, { last_used_at: Date.now() })
      .catch((err: Error) => logger.warn({ err: err.message }, 'could not record device use'));
  });

  const koa = provider.callback() as unknown as Latch['callback'];
  const jwt = {
    responder,
    // RFC 9701 §6: "the default, if omitted, is RS256"; a deployment with no RSA key signs with the first alg it has.
    defaultAlg: introspectionSigningAlgs.includes('RS256') ? 'RS256' : introspectionSigningAlgs[0],
    // The caller was just authenticated: its registration is in the registry's memory.
    algs: { get: (clientId: string) => clients.peek(clientId)?.introspectionAlg },
  };
  const authenticator = new ClientAuthenticator(clients, { issuer: config.issuer, store });
  const introspect = introspectionEndpoint(introspector, authenticator, jwt, logger, metrics, rateLimits);
  const callback: Latch['callback'] = (req, res) => {
    // On the resolved route, not on the string: a variant of the path is Koa's gate's to refuse.
    const route = requestRoute(req);
    if (req.method === 'POST' && route?.name === 'introspection' && route.exact) return introspect(req, res);
    return koa(req, res);
  };
  return { provider, store, accounts, credentials, revocations, audit, introspector, metrics, rateLimits, outbound, ssf, backchannel, live, clients, clientService, resourceServers, apis, ops: opsListener(store, metrics), callback };
}
