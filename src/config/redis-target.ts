import { ConfigError } from './config-error.js';

export interface RedisNode {
  host: string;
  port: number;
}

/** Credentials and TLS for cluster and sentinel targets (a single server takes them in its URL). */
export interface RedisAuth {
  username?: string;
  password?: string;
  tls?: boolean;
}

/** Where Latch's data lives. Every Latch instance of one deployment must name the same data. */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | ({ kind: 'cluster'; nodes: RedisNode[] } & RedisAuth)
  | ({ kind: 'sentinel'; sentinels: RedisNode[]; name: string; sentinelPassword?: string } & RedisAuth);

type Env = Record<string, string | undefined>;

/** Where Latch looks for Redis when no variable names one. */
export const DEFAULT_REDIS_NODE: Readonly<RedisNode> = Object.freeze({ host: '127.0.0.1', port: 6379 });

const TOPOLOGY_VARIABLES = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const;

/** True when the environment names a Redis (any topology); empty values name nothing. */
export function namesRedis(env: Env): boolean {
  return TOPOLOGY_VARIABLES.some((name) => env[name]);
}

/** `redis://host:port` for one node (IPv6 hosts in brackets). */
export function nodeUrl(node: RedisNode): string {
  return `redis://${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.port}`;
}

/** `host:port,host:port` → nodes; `[::1]:7000` for IPv6. The error names the variable. */
export function parseNodes(raw: string, name: string): RedisNode[] {
  const nodes = raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(part);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65535) throw new ConfigError(name, `"${part}" is not host:port`);
      return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
    });
  if (nodes.length === 0) throw new ConfigError(name, 'must list at least one host:port');
  return nodes;
}

function parseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL', 'must be a URL (redis://host:port or rediss://host:port)');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError('REDIS_URL', `must use redis: or rediss:, got "${url.protocol}"`);
  }
  return raw;
}

/**
 * One of three topologies, chosen by which variable is set: REDIS_URL (one server, the default),
 * REDIS_CLUSTER_NODES (Redis Cluster seed nodes) or REDIS_SENTINELS (+ REDIS_SENTINEL_NAME).
 * Cluster and Sentinel take REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS=true; Sentinel also
 * REDIS_SENTINEL_PASSWORD. Setting two topologies is an error rather than a guess.
 */
export function parseRedisTarget(env: Env): RedisTarget {
  const chosen = TOPOLOGY_VARIABLES.filter((name) => env[name]);
  if (chosen.length > 1) throw new ConfigError(chosen[1]!, `set only one of ${chosen.join(', ')}`);
  const tls = env.REDIS_TLS ?? '';
  if (!['', 'true', 'false'].includes(tls)) throw new ConfigError('REDIS_TLS', 'must be true or false');
  const auth: RedisAuth = {
    ...(env.REDIS_USERNAME ? { username: env.REDIS_USERNAME } : {}),
    ...(env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {}),
    ...(tls === 'true' ? { tls: true } : {}),
  };
  if (env.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: parseNodes(env.REDIS_CLUSTER_NODES, 'REDIS_CLUSTER_NODES'), ...auth };
  if (env.REDIS_SENTINELS) {
    return {
      kind: 'sentinel',
      sentinels: parseNodes(env.REDIS_SENTINELS, 'REDIS_SENTINELS'),
      name: env.REDIS_SENTINEL_NAME || 'mymaster',
      ...(env.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: env.REDIS_SENTINEL_PASSWORD } : {}),
      ...auth,
    };
  }
  if (Object.keys(auth).length > 0) {
    const extra = Object.keys(auth).map((k) => (k === 'tls' ? 'REDIS_TLS' : `REDIS_${k.toUpperCase()}`));
    throw new ConfigError(extra[0]!, 'applies to REDIS_CLUSTER_NODES or REDIS_SENTINELS; put credentials in REDIS_URL (redis://user:password@host) and use rediss: for TLS');
  }
  return { kind: 'single', url: parseUrl(env.REDIS_URL || nodeUrl(DEFAULT_REDIS_NODE)) };
}

/** The target as a log line: hosts and kind, never credentials. */
export function describeTarget(target: RedisTarget): string {
  const list = (nodes: RedisNode[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  if (target.kind === 'single') return new URL(target.url).host;
  if (target.kind === 'cluster') return `cluster ${list(target.nodes)}`;
  return `sentinel ${list(target.sentinels)} (master "${target.name}")`;
}
