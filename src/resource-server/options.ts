import type { CryptoKey, JWK } from 'jose';
import { isValidRealm } from './challenge.js';
import { resolveDpopOptions, type DpopOptions, type ResolvedDpop } from './dpop-options.js';
import type { Logger } from './logger.js';

/** RFC 6749 §2.3.1 HTTP Basic with the client secret. */
export interface ClientSecretBasic {
  method?: 'client_secret_basic';
  clientId: string;
  clientSecret: string;
}

/** RFC 7523 §2.2 signed client assertion; the public key is registered with Latch (client `jwks`). */
export interface PrivateKeyJwt {
  method: 'private_key_jwt';
  clientId: string;
  /** A private JWK (or a CryptoKey) of the key registered with Latch. */
  privateKey: JWK | CryptoKey;
  /** Defaults to the JWK's `alg`, else RS256 / ES256 / EdDSA by key type. */
  alg?: string;
  kid?: string;
}

export type ClientAuthOptions = ClientSecretBasic | PrivateKeyJwt;

export interface RedisEventsOptions {
  /** The Redis Latch publishes its revocation events on (docs/events.md). */
  redisUrl: string;
  channel?: string;
}

/** A Shared Signals stream of Latch's as the cache's event source (docs/shared-signals.md). */
export interface SsfEventsOptions {
  ssf: {
    /** `push`: Latch POSTs each SET to `endpointUrl` (the adapters' `securityEvents` endpoint); `poll`: this process polls Latch. */
    delivery: 'push' | 'poll';
    /** Push: the URL at which Latch reaches this process's `securityEvents` endpoint. */
    endpointUrl?: string;
    /**
     * The client that owns the stream: client credentials for `urn:latch:ssf` with scope
     * `ssf.manage`. Defaults to `client` (which must then be allowed that grant).
     */
    client?: ClientAuthOptions;
    /** How often a verification event is asked for (default 10 000 ms; Latch's min_verification_interval bounds it). */
    heartbeatMs?: number;
    /**
     * The cache is bypassed once the last verification that came back was asked for longer ago than
     * this (default 30 000 ms): events published since may not have arrived.
     */
    maxLagMs?: number;
    /** Poll: bound on one long poll (default 60 000 ms; Latch answers within its pollWaitSeconds). */
    pollTimeoutMs?: number;
  };
}

export type RevocationEventsOptions = RedisEventsOptions | SsfEventsOptions;

export interface ResolvedSsfOptions {
  delivery: 'push' | 'poll';
  endpointUrl: string | undefined;
  client: ClientAuthOptions;
  heartbeatMs: number;
  maxLagMs: number;
  pollTimeoutMs: number;
}

export interface CacheOptions {
  /** Upper bound on how long an active answer is reused; the token's own `exp` bounds it too. */
  maxTtlSeconds: number;
  /** Oldest entries are dropped past this many (default 10,000). */
  maxEntries?: number;
  /**
   * Drop cached answers the moment Latch revokes them. `false` only if you accept that a revoked
   * token keeps working for up to `maxTtlSeconds` on this process.
   */
  revocationEvents: RevocationEventsOptions | false;
}

export interface ResourceServerOptions {
  /** Latch's issuer URL; the introspection endpoint is found by discovery. */
  issuer?: string;
  /** Or the introspection endpoint itself (no discovery). */
  introspectionEndpoint?: string;
  /** This resource server's own client credentials at Latch. */
  client: ClientAuthOptions;
  /** The audience (RFC 8707 resource indicator) tokens must carry to be accepted here. */
  audience: string;
  /** The `realm` of the WWW-Authenticate challenge; defaults to the audience. */
  realm?: string;
  /** Bound on connecting to, and hearing back from, Latch (default 3000 ms); past it: 503. */
  timeoutMs?: number;
  /** Keep-alive connections kept open to Latch (default 32). */
  connections?: number;
  /** Off by default: every request is introspected. */
  cache?: CacheOptions | false;
  /** Plain http is accepted for loopback hosts only, unless this is set. */
  allowInsecureHttp?: boolean;
  /** DPoP (RFC 9449): accepted beside Bearer by default; `false` for a Bearer-only API. */
  dpop?: DpopOptions | false;
  logger?: Logger;
}

export interface ResolvedCache {
  maxTtlSeconds: number;
  maxEntries: number;
  revocationEvents: { redisUrl: string; channel: string } | { ssf: ResolvedSsfOptions } | false;
}

export interface ResolvedOptions {
  issuer: string | undefined;
  introspectionEndpoint: string | undefined;
  client: ClientAuthOptions;
  audience: string;
  realm: string;
  timeoutMs: number;
  connections: number;
  cache: ResolvedCache | false;
  dpop: ResolvedDpop | false;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function url(value: unknown, name: string, allowInsecureHttp: boolean): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a URL string`);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new TypeError(`${name} must be an absolute URL, got "${value}"`);
  }
  if (parsed.protocol === 'http:' && !allowInsecureHttp && !LOOPBACK.has(parsed.hostname)) {
    throw new TypeError(`${name} must use https (plain http is allowed for loopback hosts, or with allowInsecureHttp)`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new TypeError(`${name} must be an http(s) URL`);
  return value.replace(/\/$/, '');
}

function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new TypeError(`${name} must be a positive integer`);
  return value;
}

function nonEmpty(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
  return value;
}

function clientAuth(value: unknown): ClientAuthOptions {
  if (typeof value !== 'object' || value === null) throw new TypeError('client must be { clientId, clientSecret } or { method: "private_key_jwt", clientId, privateKey }');
  const client = value as { method?: string; clientId?: unknown; clientSecret?: unknown; privateKey?: unknown };
  nonEmpty(client.clientId, 'client.clientId');
  if (client.method === undefined || client.method === 'client_secret_basic') {
    nonEmpty(client.clientSecret, 'client.clientSecret');
    return { method: 'client_secret_basic', clientId: client.clientId as string, clientSecret: client.clientSecret as string };
  }
  if (client.method === 'private_key_jwt') {
    if (typeof client.privateKey !== 'object' || client.privateKey === null) throw new TypeError('client.privateKey must be a private JWK or CryptoKey');
    if (!(client.privateKey instanceof globalThis.CryptoKey) && !('d' in client.privateKey)) throw new TypeError('client.privateKey must be a *private* JWK (it has no "d")');
    return value as PrivateKeyJwt;
  }
  throw new TypeError(`client.method must be "client_secret_basic" or "private_key_jwt", got "${client.method}"`);
}

function ssfOptions(value: unknown, client: ClientAuthOptions, issuer: string | undefined, insecure: boolean): ResolvedSsfOptions {
  if (typeof value !== 'object' || value === null) throw new TypeError('cache.revocationEvents.ssf must be { delivery: "push" | "poll", … }');
  const ssf = value as Partial<SsfEventsOptions['ssf']>;
  if (!issuer) throw new TypeError('issuer is required with cache.revocationEvents.ssf: the stream is set up from Latch\'s /.well-known/ssf-configuration');
  if (ssf.delivery !== 'push' && ssf.delivery !== 'poll') throw new TypeError('cache.revocationEvents.ssf.delivery must be "push" or "poll"');
  if (ssf.delivery === 'push' && ssf.endpointUrl === undefined) {
    throw new TypeError('cache.revocationEvents.ssf.endpointUrl is required for push: the URL at which Latch reaches this process\'s securityEvents endpoint');
  }
  const heartbeatMs = positiveInt(ssf.heartbeatMs, 'cache.revocationEvents.ssf.heartbeatMs', 10_000);
  const maxLagMs = positiveInt(ssf.maxLagMs, 'cache.revocationEvents.ssf.maxLagMs', 30_000);
  if (maxLagMs <= heartbeatMs) throw new TypeError('cache.revocationEvents.ssf.maxLagMs must be longer than heartbeatMs (a heartbeat must come back within the bound)');
  return {
    delivery: ssf.delivery,
    endpointUrl: ssf.endpointUrl === undefined ? undefined : url(ssf.endpointUrl, 'cache.revocationEvents.ssf.endpointUrl', insecure),
    client: ssf.client === undefined ? client : clientAuth(ssf.client),
    heartbeatMs,
    maxLagMs,
    pollTimeoutMs: positiveInt(ssf.pollTimeoutMs, 'cache.revocationEvents.ssf.pollTimeoutMs', 60_000),
  };
}

function cache(value: unknown, client: ClientAuthOptions, issuer: string | undefined, insecure: boolean): ResolvedCache | false {
  if (value === undefined || value === false) return false;
  if (typeof value !== 'object' || value === null) throw new TypeError('cache must be false or { maxTtlSeconds, revocationEvents }');
  const c = value as Partial<CacheOptions>;
  const maxTtlSeconds = positiveInt(c.maxTtlSeconds, 'cache.maxTtlSeconds', NaN);
  if (Number.isNaN(maxTtlSeconds)) throw new TypeError('cache.maxTtlSeconds is required');
  const maxEntries = positiveInt(c.maxEntries, 'cache.maxEntries', 10_000);
  if (c.revocationEvents === undefined) {
    throw new TypeError('cache.revocationEvents is required: { redisUrl } or { ssf } to drop revoked tokens at once, or false to accept stale answers');
  }
  if (c.revocationEvents === false) return { maxTtlSeconds, maxEntries, revocationEvents: false };
  if (typeof c.revocationEvents === 'object' && c.revocationEvents !== null && 'ssf' in c.revocationEvents) {
    return { maxTtlSeconds, maxEntries, revocationEvents: { ssf: ssfOptions(c.revocationEvents.ssf, client, issuer, insecure) } };
  }
  const { redisUrl, channel = 'latch:events' } = c.revocationEvents as Partial<RedisEventsOptions>;
  if (typeof redisUrl !== 'string' || !/^rediss?:\/\//.test(redisUrl)) throw new TypeError('cache.revocationEvents.redisUrl must be a redis:// or rediss:// URL');
  return { maxTtlSeconds, maxEntries, revocationEvents: { redisUrl, channel: nonEmpty(channel, 'cache.revocationEvents.channel') } };
}

/** Checks every option once, at creation: a mistake is a TypeError naming the option. */
export function resolveOptions(options: ResourceServerOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const insecure = options.allowInsecureHttp === true;
  if (!options.issuer && !options.introspectionEndpoint) throw new TypeError('one of issuer or introspectionEndpoint is required');
  const audience = nonEmpty(options.audience, 'audience');
  const client = clientAuth(options.client);
  // The assertion's aud must be Latch's issuer identifier (RFC 7523bis, RFC 9700): Latch refuses an
  // endpoint URL there, so the issuer must be known even when the endpoint is given directly.
  if (client.method === 'private_key_jwt' && !options.issuer) {
    throw new TypeError('issuer is required with client.method "private_key_jwt": client assertions are addressed to the issuer (aud), also when introspectionEndpoint is given');
  }
  const realm = options.realm ?? audience;
  if (typeof realm !== 'string' || !isValidRealm(realm)) throw new TypeError('realm must be printable ASCII without " or \\');
  return {
    issuer: options.issuer === undefined ? undefined : url(options.issuer, 'issuer', insecure),
    introspectionEndpoint: options.introspectionEndpoint === undefined ? undefined : url(options.introspectionEndpoint, 'introspectionEndpoint', insecure),
    client,
    audience,
    realm,
    timeoutMs: positiveInt(options.timeoutMs, 'timeoutMs', 3000),
    connections: positiveInt(options.connections, 'connections', 32),
    cache: cache(options.cache, client, options.issuer === undefined ? undefined : url(options.issuer, 'issuer', insecure), insecure),
    dpop: resolveDpopOptions(options.dpop, insecure),
  };
}
