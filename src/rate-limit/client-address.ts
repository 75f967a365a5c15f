import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';

/**
 * The caller's address by Koa's rule, which oidc-provider's `ctx.ip` follows (app.ts sets
 * `provider.proxy` and `maxIpsCount` from LATCH_TRUSTED_PROXIES): with `trustedProxies` = n > 0, the
 * first of the last n entries of X-Forwarded-For (the ones our own proxies appended); with 0, the
 * socket's peer, and the header is ignored (anyone can send it). For the lean handlers that run
 * before Koa.
 */
export function clientAddress(req: IncomingMessage, trustedProxies: number): string {
  const header = trustedProxies > 0 ? req.headers['x-forwarded-for'] : undefined;
  const forwarded = Array.isArray(header) ? header.join(',') : header;
  if (forwarded) {
    const ips = forwarded.split(',').map((ip) => ip.trim()).slice(-trustedProxies);
    if (ips[0]) return ips[0];
  }
  return req.socket.remoteAddress ?? '';
}

/** Number of 16-bit groups an IPv6 text part stands for (an embedded IPv4 counts as two). */
function groupCount(groups: string[]): number {
  return groups.length + (groups.at(-1)?.includes('.') ? 1 : 0);
}

/**
 * What one per-address budget covers: an IPv4 address (IPv4-mapped IPv6 unwrapped), or the /64 an
 * IPv6 address is in — one subscriber usually holds a whole /64, so counting single IPv6 addresses
 * would give each attacker 2^64 budgets.
 */
export function addressBucket(ip: string): string {
  if (!ip.includes(':')) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const bare = ip.split('%')[0]!;
  const [head, tail] = bare.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - groupCount(left) - groupCount(right)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
