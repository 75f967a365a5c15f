import { isIP } from 'node:net';
import type { GeoConfig } from '../config/schema.js';

export interface Location {
  ip: string;
  latitude?: number;
  longitude?: number;
  /** "City, CC" or the network's configured name. */
  place?: string;
  /** Where the coordinates came from; `none` for private and unknown addresses. */
  source: 'edge' | 'network' | 'geoip' | 'none';
}

export interface RequestFacts {
  /** The client address, already resolved through the trusted proxies (Koa `ctx.ip`). */
  ip: string;
  header(name: string): string | undefined;
}

/** IPv4/IPv6 address as a BigInt (IPv4-mapped IPv6 is folded to IPv4), or undefined. */
function toBigInt(address: string): { v: 4 | 6; n: bigint } | undefined {
  const ip = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  if (isIP(ip) === 4) return { v: 4, n: ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n) };
  if (isIP(ip) !== 6) return undefined;
  const [head, tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return { v: 6, n: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n) };
}

class Cidr {
  readonly v: 4 | 6;
  readonly base: bigint;
  readonly mask: bigint;

  constructor(cidr: string) {
    const [address, bits] = cidr.split('/') as [string, string];
    const parsed = toBigInt(address);
    if (!parsed) throw new TypeError(`not an IP address: ${address}`);
    const width = parsed.v === 4 ? 32n : 128n;
    this.v = parsed.v;
    this.mask = ((1n << width) - 1n) ^ ((1n << (width - BigInt(bits))) - 1n);
    this.base = parsed.n & this.mask;
  }

  has(ip: { v: 4 | 6; n: bigint }): boolean {
    return ip.v === this.v && (ip.n & this.mask) === this.base;
  }
}

/** Loopback, private (RFC 1918, RFC 4193), link-local and carrier-grade NAT ranges: never located. */
const PRIVATE = ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10', '0.0.0.0/8', '::1/128', 'fc00::/7', 'fe80::/10'].map(
  (c) => new Cidr(c),
);

export function isPrivate(ip: string): boolean {
  const parsed = toBigInt(ip);
  return !parsed || PRIVATE.some((range) => range.has(parsed));
}

type GeoipLookup = (ip: string) => { ll?: [number, number]; city?: string; country?: string } | null;

/**
 * Where a login comes from: trusted edge headers when configured, else configured networks, else
 * the optional offline database (`geoip-lite`, installed separately). Private and unknown
 * addresses get no coordinates.
 */
export class LocationResolver {
  readonly #config: GeoConfig;
  readonly #networks: Array<{ cidr: Cidr; latitude: number; longitude: number; place: string }>;
  #geoip: Promise<GeoipLookup | undefined> | undefined;

  constructor(config: GeoConfig) {
    this.#config = config;
    this.#networks = config.networks.map((n) => ({ ...n, cidr: new Cidr(n.cidr) }));
  }

  #loadGeoip(): Promise<GeoipLookup | undefined> {
    const name = 'geoip-lite';
    this.#geoip ??= import(name).then(
      (mod: { default?: { lookup: GeoipLookup }; lookup?: GeoipLookup }) => (mod.default ?? mod).lookup,
      () => undefined,
    );
    return this.#geoip;
  }

  async resolve(request: RequestFacts): Promise<Location> {
    const ip = request.ip;
    const edge = this.#config.edgeHeaders;
    if (edge) {
      const latitude = Number(request.header(edge.latitude));
      const longitude = Number(request.header(edge.longitude));
      if (request.header(edge.latitude) && Number.isFinite(latitude) && Math.abs(latitude) <= 90 && Number.isFinite(longitude) && Math.abs(longitude) <= 180) {
        const place = [edge.city && request.header(edge.city), edge.country && request.header(edge.country)].filter(Boolean).join(', ');
        return { ip, latitude, longitude, place: place || undefined, source: 'edge' };
      }
    }
    if (isPrivate(ip)) return { ip, source: 'none' };
    const parsed = toBigInt(ip)!;
    const network = this.#networks.find((n) => n.cidr.has(parsed));
    if (network) return { ip, latitude: network.latitude, longitude: network.longitude, place: network.place, source: 'network' };
    if (this.#config.geoipLite) {
      const hit = (await this.#loadGeoip())?.(ip);
      if (hit?.ll) return { ip, latitude: hit.ll[0], longitude: hit.ll[1], place: [hit.city, hit.country].filter(Boolean).join(', ') || undefined, source: 'geoip' };
    }
    return { ip, source: 'none' };
  }
}
