import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { latchFileConfig, type BenchSecrets } from './bench-config.js';
import { startProgram, type ChildServer } from './child-server.js';
import { freePort } from '../../test/support/redis-server.js';

/** The compiled production entry point (`npm run build`), run exactly as `npm start` runs it. */
export const LATCH_MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

/**
 * Starts the real Latch server (dist/src/main.js) as its own process with the bench config and
 * keys, at LOG_LEVEL=info (the production default: no per-request log lines). `env` adds to or
 * overrides the environment (e.g. REDIS_CLUSTER_NODES with an empty `redisUrl`); `file` replaces the
 * bench config file (a scenario that needs more of Latch, e.g. Shared Signals, or more clients).
 * `main` runs another build instead (`--baseline`: an A/B comparison in the same run).
 */
export async function startLatch(
  redisUrl: string,
  secrets: BenchSecrets,
  nodeArgs: string[] = [],
  env: Record<string, string> = {},
  file: unknown = latchFileConfig(),
  main = LATCH_MAIN,
): Promise<ChildServer> {
  const port = await freePort();
  // Readiness is served on the operations listener (LATCH_OPS_PORT), never on the public port.
  const opsPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'latch-bench-'));
  const configFile = join(dir, 'latch.json');
  writeFileSync(configFile, JSON.stringify(file));
  const url = `http://127.0.0.1:${port}`;
  return startProgram(
    main,
    {
      PORT: String(port),
      ISSUER: url,
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
      LATCH_CONFIG: configFile,
      LATCH_JWKS: JSON.stringify(secrets.jwks),
      LATCH_COOKIE_KEYS: secrets.cookieKey,
      LATCH_TOKEN_HASH_KEY: secrets.tokenHashKey,
      LATCH_DPOP_NONCE_SECRET: secrets.dpopNonceSecret,
      LATCH_DEV_KEYS_FILE: join(dir, 'unused-dev-keys.json'),
      LATCH_OPS_PORT: String(opsPort),
      LOG_LEVEL: 'info',
      NODE_ENV: 'development',
      ...env,
    },
    url,
    `http://127.0.0.1:${opsPort}/readyz`,
    nodeArgs,
  );
}
