import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError, fieldPath } from './config-error.js';
import { refuseInsecureBackchannelUris } from './backchannel-uris.js';
import { demoValueProblem, refuseDemoValues } from './demo-secrets.js';
import { configSchema, type LatchFileConfig } from './schema.js';
import { DEFAULT_REDIS_NODE, namesRedis, nodeUrl, parseNodes, parseRedisTarget, type RedisNode, type RedisTarget } from './redis-target.js';
import { loadSecrets, type Secrets } from './secrets.js';

export interface LatchConfig {
  port: number;
  /** The operations listener (`/readyz`, `/metrics`): its port (0 = not served) and address. */
  opsPort: number;
  opsHost: string;
  issuer: string;
  /** One server, a Cluster or a Sentinel-managed master (redis-target.ts). */
  redis: RedisTarget;
  /**
   * Development only, when no Redis variable is set: the address to try first (`redis` points at
   * it) and, when nothing answers there, where Latch's own redis-server keeps its data (src/dev-redis/).
   */
  devRedis?: { probe: RedisNode; dir: string };
  /** LATCH_WORKERS: processes serving the port (1: this process serves; more: src/cluster/). */
  workers: number;
  production: boolean;
  logLevel: string;
  /** Number of reverse proxies in front of Latch whose X-Forwarded-* headers are trusted. */
  trustedProxies: number;
  /** How long start-up waits for Redis before giving up. */
  redisStartupTimeoutMs: number;
  /** Bound on each Redis command; past it the request answers 503 (fail closed). */
  redisCommandTimeoutMs: number;
  configFile: string;
  file: LatchFileConfig;
  secrets: Secrets;
  /** LATCH_MAIL_SENDER: a module whose default export delivers reset links (src/credentials/mail-sender.ts). */
  mailSender?: string;
}

type Env = Record<string, string | undefined>;

export const DEFAULT_CONFIG_FILE = 'config/demo.json';
/** The operations listener's default port (the one OpenTelemetry's Prometheus exporter uses). */
export const DEFAULT_OPS_PORT = 9464;

/** Validates a parsed config object; the error names the first bad field. */
export function parseFileConfig(raw: unknown, source = 'config'): LatchFileConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = fieldPath(issue.path) || '(root)';
    const detail = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
    throw new ConfigError(`${source}: ${field}`, detail);
  }
  return Object.freeze(result.data) as LatchFileConfig;
}

export function readFileConfig(path: string): LatchFileConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('LATCH_CONFIG', `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('LATCH_CONFIG', `${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseFileConfig(raw, path);
}

function parsePort(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(name, `must be a port number, got "${raw}"`);
  return n;
}

function parseUrl(raw: string, name: string, protocols: string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be a URL, got "${raw}"`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got "${url.protocol}"`);
  }
  return raw;
}

/** Production refuses placeholder key values (copied from an example) in the key variables. */
function refuseDemoKeys(env: Env): void {
  const keys = (env.LATCH_COOKIE_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean);
  keys.forEach((key, i) => {
    const problem = demoValueProblem(key);
    if (problem) throw new ConfigError(`LATCH_COOKIE_KEYS[${i}]`, problem);
  });
  for (const name of ['LATCH_TOKEN_HASH_KEY', 'LATCH_DPOP_NONCE_SECRET']) {
    const problem = demoValueProblem(env[name] ?? '');
    if (problem) throw new ConfigError(name, problem);
  }
}

function parseDevRedis(env: Env): { probe: RedisNode; dir: string } {
  const probe = env.LATCH_DEV_REDIS_PROBE ? parseNodes(env.LATCH_DEV_REDIS_PROBE, 'LATCH_DEV_REDIS_PROBE') : [DEFAULT_REDIS_NODE];
  if (probe.length !== 1) throw new ConfigError('LATCH_DEV_REDIS_PROBE', 'must be one host:port');
  return { probe: probe[0]!, dir: resolve('.latch/redis') };
}

/** Default: 1 in development (one process to debug), every CPU this process may use in production. */
function parseWorkers(raw: string | undefined, production: boolean): number {
  if (raw === undefined || raw === '') return production ? availableParallelism() : 1;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 1024) throw new ConfigError('LATCH_WORKERS', `must be a whole number of worker processes from 1 to 1024, got "${raw}"`);
  return n;
}

/** Reads the whole configuration once at start-up: environment, config file and keys. */
export async function loadConfig(env: Env = process.env): Promise<LatchConfig> {
  const production = env.NODE_ENV === 'production';
  const port = parsePort(env.PORT, 'PORT', 3000);
  const opsPort = parsePort(env.LATCH_OPS_PORT, 'LATCH_OPS_PORT', DEFAULT_OPS_PORT);
  const opsHost = env.LATCH_OPS_HOST || '127.0.0.1';
  if (opsPort !== 0 && opsPort === port) throw new ConfigError('LATCH_OPS_PORT', `must differ from PORT (${port}): readiness and metrics are not served on the public listener`);
  const issuer = parseUrl(env.ISSUER ?? `http://localhost:${port}`, 'ISSUER', ['http:', 'https:']);
  if (production && !issuer.startsWith('https:')) {
    throw new ConfigError('ISSUER', 'must be https when NODE_ENV=production');
  }
  const named = parseRedisTarget(env);
  // Never in production, never when the user named a Redis: then it must be that one (or an error).
  const devRedis = production || namesRedis(env) ? undefined : parseDevRedis(env);
  const redis: RedisTarget = devRedis ? { kind: 'single', url: nodeUrl(devRedis.probe) } : named;
  const workers = parseWorkers(env.LATCH_WORKERS, production);
  const trustedProxies = Number(env.LATCH_TRUSTED_PROXIES ?? '0');
  if (!Number.isInteger(trustedProxies) || trustedProxies < 0) {
    throw new ConfigError('LATCH_TRUSTED_PROXIES', 'must be a whole number of proxies (0 trusts no forwarded header)');
  }
  const redisStartupTimeoutMs = Number(env.LATCH_REDIS_STARTUP_TIMEOUT_MS ?? '15000');
  if (!Number.isInteger(redisStartupTimeoutMs) || redisStartupTimeoutMs <= 0) {
    throw new ConfigError('LATCH_REDIS_STARTUP_TIMEOUT_MS', 'must be a positive number of milliseconds');
  }
  const redisCommandTimeoutMs = Number(env.LATCH_REDIS_COMMAND_TIMEOUT_MS ?? '2000');
  if (!Number.isInteger(redisCommandTimeoutMs) || redisCommandTimeoutMs < 10 || redisCommandTimeoutMs > 60_000) {
    throw new ConfigError('LATCH_REDIS_COMMAND_TIMEOUT_MS', 'must be a whole number of milliseconds between 10 and 60000');
  }
  if (production && !env.LATCH_CONFIG) {
    throw new ConfigError('LATCH_CONFIG', `required when NODE_ENV=production (the default, ${DEFAULT_CONFIG_FILE}, has public secrets and demo users)`);
  }
  const configFile = resolve(env.LATCH_CONFIG ?? DEFAULT_CONFIG_FILE);
  const file = readFileConfig(configFile);
  if (production) refuseDemoValues(file, configFile);
  if (production) refuseInsecureBackchannelUris(file, configFile);
  const secrets = await loadSecrets(env, production, resolve(env.LATCH_DEV_KEYS_FILE ?? '.latch/dev-keys.json'));
  if (production) refuseDemoKeys(env);
  return Object.freeze({
    port,
    opsPort,
    opsHost,
    issuer: issuer.replace(/\/$/, ''),
    redis,
    ...(devRedis ? { devRedis } : {}),
    workers,
    production,
    logLevel: env.LOG_LEVEL ?? (production ? 'info' : 'debug'),
    trustedProxies,
    redisStartupTimeoutMs,
    redisCommandTimeoutMs,
    configFile,
    file,
    secrets,
    ...(env.LATCH_MAIL_SENDER ? { mailSender: resolve(env.LATCH_MAIL_SENDER) } : {}),
  });
}
