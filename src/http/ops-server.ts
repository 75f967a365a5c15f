import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import { ConfigError } from '../config/config-error.js';
import type { LatchMetrics } from './metrics.js';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const json = (res: ServerResponse, status: number, body: unknown) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));

/**
 * The operations listener (LATCH_OPS_PORT, loopback by default): `GET /readyz` (Redis answers)
 * and `GET /metrics` (Prometheus), plus `/healthz` as on the public listener. They are kept off the
 * public port: unauthenticated, not rate limited, and `/readyz` costs a Redis round trip, so on the
 * public side they were a free probe of Latch's state and a way to make it work for nothing.
 */
export function opsListener(store: RedisStore, metrics: LatchMetrics): Listener {
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(res, 405, { error: 'invalid_request', error_description: 'use GET' });
    }
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const ready = await store.ping();
      return json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'redis unreachable' });
    }
    if (path === '/metrics') {
      // With workers the primary sums them (src/cluster/cluster-metrics.ts); when it cannot, the scrape fails visibly.
      const body = await metrics.render().catch(() => undefined);
      if (body === undefined) return json(res, 503, { status: 'metrics unavailable' });
      return send(res, 200, metrics.registry.contentType, body);
    }
    json(res, 404, { error: 'not_found', error_description: 'the operations listener serves /healthz, /readyz and /metrics' });
  }
  return (req, res) => {
    serve(req, res).catch(() => {
      if (!res.headersSent) json(res, 500, { error: 'server_error', error_description: 'unexpected error' });
      else res.destroy();
    });
  };
}

/** Starts the operations listener on `host`:`port`; resolves once it listens. */
export function listenOps(listener: Listener, host: string, port: number): Promise<Server> {
  const server = createServer(listener);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** The operations listener of a configuration (LATCH_OPS_PORT, LATCH_OPS_HOST), or none when its port is 0. */
export async function startOps(config: { opsPort: number; opsHost: string }, listener: Listener): Promise<Server | undefined> {
  if (config.opsPort === 0) return undefined;
  return listenOps(listener, config.opsHost, config.opsPort).catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError('LATCH_OPS_PORT', `cannot listen on ${config.opsHost}:${config.opsPort} (${err.code ?? err.message}); set LATCH_OPS_PORT=0 to serve no readiness and metrics`);
  });
}
