import type { JWK } from 'jose';
import type { Registry } from 'prom-client';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { SsfConfig } from '../config/schema.js';
import type { Introspector } from '../introspection/introspect.js';
import type { Logger } from '../log/logger.js';
import type { Outbound } from '../outbound/outbound.js';
import type { LatchEvent } from '../revocation/events.js';
import { SSF_AUDIENCE } from './event-types.js';
import { PushDelivery } from './push-delivery.js';
import { SetSigner } from './set-signer.js';
import { SsfMetrics } from './ssf-metrics.js';
import { SSF_PATHS, ssfRoutes } from './ssf-routes.js';
import { StreamJanitor } from './stream-janitor.js';
import { StreamStore } from './stream-store.js';
import { SsfTransmitter } from './transmitter.js';
import { Wake } from './wake.js';

export interface SharedSignalsOptions {
  issuer: string;
  production: boolean;
  config: SsfConfig;
  store: RedisStore;
  introspector: Introspector;
  outbound: Outbound;
  /** outbound.timeoutMs. */
  pushTimeoutMs: number;
  jwks: { keys: JWK[] };
  registry: Registry;
  logger: Logger;
  /** The audiences of the configured resource servers: the transmitter is on when one is `urn:latch:ssf`. */
  audiences: readonly string[];
}

export interface SharedSignals {
  /** Koa middleware: `/.well-known/ssf-configuration`, `/ssf/*`. */
  routes: ReturnType<typeof ssfRoutes>;
  /** EventPublisher's sink: every published event becomes SETs on the streams that take them. */
  publish(event: LatchEvent): Promise<void>;
  streams: StreamStore;
  transmitter: SsfTransmitter;
  janitor: StreamJanitor;
  /**
   * Answers waiting polls, stops delivery and closes the wake-up subscription; resolves once the
   * pushes under way have finished.
   */
  close(): Promise<void>;
}

/**
 * Latch's Shared Signals transmitter (OpenID SSF 1.0, CAEP 1.0, RISC 1.0; docs/shared-signals.md),
 * assembled. It is on when the config has a resource server for `urn:latch:ssf` (receivers need
 * tokens for it); otherwise undefined, and nothing is served or queued.
 */
export function sharedSignals(options: SharedSignalsOptions): SharedSignals | undefined {
  if (!options.audiences.includes(SSF_AUDIENCE)) return undefined;
  const { issuer, config, store, logger } = options;
  const streams = new StreamStore(store);
  const signer = new SetSigner(options.jwks);
  const metrics = new SsfMetrics(options.registry, () => streams.queueStats());
  const transmitter = new SsfTransmitter({ store, streams, issuer, config, metrics });
  const wake = new Wake(store.redis, store.keys.ssfWake(), logger);
  const push = new PushDelivery({ streams, signer, cipher: store.cipher, outbound: options.outbound, config, pushTimeoutMs: options.pushTimeoutMs, metrics, logger });
  const janitor = new StreamJanitor(streams, config.inactivityTimeoutSeconds, logger);
  push.start(wake);
  janitor.start();
  const facts = {
    issuer,
    pollUrl: (id: string) => `${issuer}${SSF_PATHS.poll}/${id}`,
    minVerificationIntervalSeconds: config.minVerificationIntervalSeconds,
    inactivityTimeoutSeconds: config.inactivityTimeoutSeconds,
    production: options.production,
  };
  const routes = ssfRoutes({ streams, transmitter, cipher: store.cipher, config, facts, signer, wake, metrics, logger, introspector: options.introspector, issuer });
  return {
    routes,
    publish: (event) => transmitter.publish(event),
    streams,
    transmitter,
    janitor,
    close() {
      janitor.close();
      wake.close();
      return push.close();
    },
  };
}
