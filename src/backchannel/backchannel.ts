import type Provider from 'oidc-provider';
import type { Registry } from 'prom-client';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { AuditLog } from '../admin/audit-log.js';
import type { LatchConfig } from '../config/load.js';
import type { JwtResponder } from '../introspection/jwt-response.js';
import type { Logger } from '../log/logger.js';
import type { Outbound } from '../outbound/outbound.js';
import type { Revocations } from '../revocation/revocations.js';
import { BackchannelLogout } from './backchannel-logout.js';
import { LogoutClients } from './logout-clients.js';
import { LogoutDelivery } from './logout-delivery.js';
import { LogoutMetrics } from './logout-metrics.js';
import { LogoutQueue } from './logout-queue.js';
import { LogoutTokens } from './logout-token.js';

export interface Backchannel {
  logout: BackchannelLogout;
  delivery: LogoutDelivery;
  queue: LogoutQueue;
  /** Stops this process's delivery loop (what it holds unsettled is taken over by another process). */
  stop(): Promise<void>;
}

export interface BackchannelDependencies {
  config: LatchConfig;
  store: RedisStore;
  provider: Provider;
  revocations: Revocations;
  audit: AuditLog;
  outbound: Outbound;
  responder: JwtResponder;
  registry: Registry;
  logger: Logger;
}

/**
 * Assembles back-channel logout (docs/backchannel-logout.md): the observer that queues a logout
 * token for every RP session a revocation ends, oidc-provider's logout routed into it, and this
 * process's delivery loop, started now.
 */
export function startBackchannelLogout({ config, store, provider, revocations, audit, outbound, responder, registry, logger }: BackchannelDependencies): Backchannel {
  const settings = config.file.backchannelLogout;
  const queue = new LogoutQueue(store);
  const clients = new LogoutClients(provider);
  const metrics = new LogoutMetrics(registry, () => queue.depth());
  const { ttl } = config.file;
  const delivery: LogoutDelivery = new LogoutDelivery({
    queue, clients, outbound, audit, metrics, settings,
    tokens: new LogoutTokens(responder, config.issuer, settings.tokenLifetimeSeconds),
    logger: logger.child({ component: 'backchannel-logout' }),
    fanout: (entry, keepAlive) => logout.runFanout(entry, keepAlive),
  });
  const logout = new BackchannelLogout({
    store, queue, clients, revocations, metrics, logger,
    wake: () => delivery.wake(),
    sidTtlMs: Math.max(ttl.grant, ttl.refreshToken, ttl.session) * 1000,
  });
  revocations.observe(logout);
  logout.install(provider);
  delivery.start();
  return { logout, delivery, queue, stop: () => delivery.stop() };
}
