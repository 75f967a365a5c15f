import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { RedisNode } from '../config/redis-target.js';

/** The absolute path of `name` on `path` (the PATH variable), as a shell would find it. */
export function findOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/**
 * What a new user reads when there is no Redis at all: what is missing and the one command that
 * fixes it on each common system. The Docker line publishes on loopback only: a Redis without a
 * password must not be reachable from the network.
 */
export function missingRedisServer(probe: RedisNode): string {
  return (
    `not set, nothing answers at ${probe.host}:${probe.port}, and there is no redis-server on PATH for Latch to start its own development Redis. ` +
    'Install Redis — Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis — ' +
    'or run one with Docker: docker run -d -p 127.0.0.1:6379:6379 redis:7; or set REDIS_URL to your Redis'
  );
}
