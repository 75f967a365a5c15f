import { ASYMMETRIC_ALGORITHMS, DEFAULT_DPOP_ALGORITHMS } from './dpop-proof.js';

/** DPoP (RFC 9449) at this resource server; `dpop: false` makes it a Bearer-only API. */
export interface DpopOptions {
  /** Accepted proof algorithms (asymmetric only), default ES256 ES384 EdDSA Ed25519 PS256 RS256. */
  algorithms?: readonly string[];
  /**
   * The API's external base URL as clients call it (`https://api.example.com`, or with a path
   * prefix a proxy strips: `https://example.com/orders`). A proof's `htu` must be this plus the
   * request path. Without it, the URL the framework reports (Host header, its view of the scheme).
   */
  publicUrl?: string;
  /** How old a proof's `iat` may be (default 60 s), when no nonce is used. */
  maxAgeSeconds?: number;
  /** Tolerated clock difference with clients, both ways (default 5 s). */
  clockSkewSeconds?: number;
  /**
   * Where the `jti` of accepted proofs is kept: in this process (default, at most `maxEntries`,
   * default 100,000), or in Redis, shared by every instance of the API.
   */
  replay?: { maxEntries?: number } | { redisUrl: string; keyPrefix?: string };
  /**
   * This API's own nonces (RFC 9449 §9): every proof must then carry one (`use_dpop_nonce` hands it
   * out). `secret`: one or more secrets of ≥ 32 characters shared by the API's instances; the
   * first issues, all are accepted (rotation). Default: no nonces (`iat` bounds a proof's use).
   */
  nonce?: false | { secret: string | readonly string[] };
}

export interface ResolvedDpop {
  algorithms: readonly string[];
  publicUrl: string | undefined;
  maxAgeSeconds: number;
  clockSkewSeconds: number;
  replay: { kind: 'memory'; maxEntries: number } | { kind: 'redis'; redisUrl: string; keyPrefix: string };
  nonceSecrets: readonly string[] | undefined;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function seconds(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new TypeError(`${name} must be a whole number of seconds from ${min} to ${max}`);
  return value;
}

function publicUrl(value: unknown, allowInsecureHttp: boolean): string | undefined {
  if (value === undefined) return undefined;
  const url = typeof value === 'string' ? URL.parse(value) : null;
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new TypeError('dpop.publicUrl must be an absolute http(s) URL');
  if (url.search || url.hash || (value as string).includes('?') || (value as string).includes('#')) throw new TypeError('dpop.publicUrl must have no query or fragment');
  if (url.protocol === 'http:' && !allowInsecureHttp && !LOOPBACK.has(url.hostname)) {
    throw new TypeError('dpop.publicUrl must use https (plain http is allowed for loopback hosts, or with allowInsecureHttp)');
  }
  return `${url.origin}${url.pathname.replace(/\/$/, '')}`;
}

function algorithms(value: unknown): readonly string[] {
  if (value === undefined) return DEFAULT_DPOP_ALGORITHMS;
  if (!Array.isArray(value) || value.length === 0) throw new TypeError('dpop.algorithms must be a non-empty array of JWS algorithms');
  value.forEach((alg, i) => {
    if (typeof alg !== 'string' || !ASYMMETRIC_ALGORITHMS.includes(alg)) {
      throw new TypeError(`dpop.algorithms[${i}] "${String(alg)}" is not an asymmetric JWS algorithm (one of ${ASYMMETRIC_ALGORITHMS.join(' ')})`);
    }
  });
  return Object.freeze([...new Set(value as string[])]);
}

function replay(value: unknown): ResolvedDpop['replay'] {
  if (value === undefined) return { kind: 'memory', maxEntries: 100_000 };
  if (typeof value !== 'object' || value === null) throw new TypeError('dpop.replay must be { maxEntries } or { redisUrl, keyPrefix? }');
  const r = value as { maxEntries?: unknown; redisUrl?: unknown; keyPrefix?: unknown };
  if (r.redisUrl === undefined) {
    const maxEntries = r.maxEntries ?? 100_000;
    if (typeof maxEntries !== 'number' || !Number.isInteger(maxEntries) || maxEntries <= 0) throw new TypeError('dpop.replay.maxEntries must be a positive integer');
    return { kind: 'memory', maxEntries };
  }
  if (r.maxEntries !== undefined) throw new TypeError('dpop.replay takes either maxEntries (in memory) or redisUrl (shared), not both');
  if (typeof r.redisUrl !== 'string' || !/^rediss?:\/\//.test(r.redisUrl)) throw new TypeError('dpop.replay.redisUrl must be a redis:// or rediss:// URL');
  const keyPrefix = r.keyPrefix ?? 'latch-rs:dpop-jti:';
  if (typeof keyPrefix !== 'string' || keyPrefix === '') throw new TypeError('dpop.replay.keyPrefix must be a non-empty string');
  return { kind: 'redis', redisUrl: r.redisUrl, keyPrefix };
}

function nonceSecrets(value: unknown): readonly string[] | undefined {
  if (value === undefined || value === false) return undefined;
  if (typeof value !== 'object' || value === null) throw new TypeError('dpop.nonce must be false or { secret }');
  const secret = (value as { secret?: unknown }).secret;
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (!Array.isArray(secrets) || secrets.length === 0) throw new TypeError('dpop.nonce.secret must be a string or a non-empty array of strings');
  secrets.forEach((s, i) => {
    if (typeof s !== 'string' || s.length < 32) throw new TypeError(`dpop.nonce.secret${typeof secret === 'string' ? '' : `[${i}]`} must be at least 32 characters`);
  });
  return Object.freeze([...(secrets as string[])]);
}

/** `dpop` checked at creation: undefined (the default) accepts DPoP with the defaults, false refuses it. */
export function resolveDpopOptions(value: unknown, allowInsecureHttp: boolean): ResolvedDpop | false {
  if (value === false) return false;
  if (value === undefined) value = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError('dpop must be false or an object of DPoP options');
  const d = value as DpopOptions;
  const known = new Set(['algorithms', 'publicUrl', 'maxAgeSeconds', 'clockSkewSeconds', 'replay', 'nonce']);
  for (const key of Object.keys(d)) if (!known.has(key)) throw new TypeError(`dpop.${key} is not an option (${[...known].join(', ')})`);
  return {
    algorithms: algorithms(d.algorithms),
    publicUrl: publicUrl(d.publicUrl, allowInsecureHttp),
    maxAgeSeconds: seconds(d.maxAgeSeconds, 'dpop.maxAgeSeconds', 60, 1, 3600),
    clockSkewSeconds: seconds(d.clockSkewSeconds, 'dpop.clockSkewSeconds', 5, 0, 300),
    replay: replay(d.replay),
    nonceSecrets: nonceSecrets(d.nonce),
  };
}
