import { createHash } from 'node:crypto';
import type { AuthInfo } from './auth-info.js';
import { extractCredentials, type BearerRequest } from './bearer-token.js';
import { bearerResponse, type BearerResponse } from './challenge.js';
import { clientAuthentication, type ClientCredentials } from './client-auth.js';
import { discover, type Endpoint } from './discovery.js';
import { DpopVerifier } from './dpop-verifier.js';
import { BearerError, IntrospectionUnavailable, InvalidToken } from './errors.js';
import { HttpClient } from './http-client.js';
import { introspect } from './introspect.js';
import { IntrospectionCache } from './introspection-cache.js';
import { stderrLogger, type Logger } from './logger.js';
import { resolveOptions, type ResolvedOptions, type ResourceServerOptions } from './options.js';
import { RevocationSubscriber } from './revocation-subscriber.js';
import { SsfEventSource, type PushAnswer } from './ssf-source.js';

/** base64url SHA-256 of the token: the cache key and the `token_sha256` of revocation events. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** A request that passed: who it is, and headers for the response (a fresher DPoP nonce). */
export interface Authenticated {
  auth: AuthInfo;
  headers: Record<string, string>;
}

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * The framework-neutral core: turns a request into an AuthInfo or a BearerError.
 * Every call introspects at Latch unless the (opt-in) cache holds a live answer; concurrent calls
 * with the same token share one in-flight introspection. A DPoP request's proof is checked on every
 * request, before and after that (dpop-verifier.ts); only the token's answer is shared or cached.
 */
export class ResourceServer {
  readonly options: ResolvedOptions;
  readonly cache: IntrospectionCache | undefined;
  readonly #http: HttpClient;
  readonly #logger: Logger;
  readonly #credentials: (audience: string) => Promise<ClientCredentials>;
  readonly #inflight = new Map<string, Promise<AuthInfo>>();
  readonly #subscriber: RevocationSubscriber | SsfEventSource | undefined;
  readonly #dpop: DpopVerifier | undefined;
  #endpoint: Promise<Endpoint> | undefined;

  constructor(options: ResourceServerOptions) {
    this.options = resolveOptions(options);
    this.#logger = options.logger ?? stderrLogger;
    this.#http = new HttpClient(this.options.timeoutMs, this.options.connections);
    this.#credentials = clientAuthentication(this.options.client);
    const { cache } = this.options;
    if (cache) {
      this.cache = new IntrospectionCache({ ...cache, live: cache.revocationEvents === false });
      const events = cache.revocationEvents;
      if (events && 'ssf' in events) {
        this.#subscriber = new SsfEventSource(events.ssf, this.options.issuer!, this.cache, this.#logger, this.options.timeoutMs);
      } else if (events) {
        this.#subscriber = new RevocationSubscriber(events.redisUrl, events.channel, this.cache, this.#logger);
      }
    }
    if (this.options.dpop) this.#dpop = new DpopVerifier(this.options.dpop, this.options.audience, this.options.timeoutMs, this.#logger);
  }

  get realm(): string {
    return this.options.realm;
  }

  /**
   * Resolves when the cache's event source is up (immediately without one): the Redis subscription,
   * or the Shared Signals stream's first verification.
   */
  async ready(): Promise<void> {
    await this.#subscriber?.ready();
  }

  /**
   * The path of the Shared Signals push endpoint (`cache.revocationEvents.ssf`, delivery push), which
   * the Koa and Express adapters answer at with `securityEvents`; undefined otherwise.
   */
  get securityEventsPath(): string | undefined {
    return this.#subscriber instanceof SsfEventSource ? this.#subscriber.pushPath : undefined;
  }

  /**
   * One SET pushed by Latch (RFC 8935), for other frameworks: answer with the returned status,
   * headers and body. Without a push stream every push is refused (401).
   */
  async receiveSecurityEvent(request: { authorization: string | undefined; contentType: string | undefined; body: string }): Promise<PushAnswer> {
    if (!(this.#subscriber instanceof SsfEventSource)) {
      return { status: 404, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ err: 'invalid_request', description: 'no Shared Signals push stream here' }) };
    }
    return this.#subscriber.receivePush(request);
  }

  /** Extracts the access token of a request and verifies it (and its DPoP proof). Throws a BearerError. */
  async authenticate(request: BearerRequest): Promise<AuthInfo> {
    return (await this.authenticateRequest(request)).auth;
  }

  /** authenticate(), with the headers the response must carry (the adapters set them). */
  async authenticateRequest(request: BearerRequest): Promise<Authenticated> {
    const { scheme, token } = extractCredentials(request, this.#dpop !== undefined);
    if (scheme === 'DPoP') return this.#dpop!.authenticate(request, token, (t) => this.#answer(t));
    return { auth: await this.verify(token), headers: NO_HEADERS };
  }

  /**
   * Verifies a raw access token presented as a bearer token, at Latch (or from the cache). A
   * DPoP-bound token is refused: RFC 9449 §7.2, it MUST NOT be accepted as a bearer token (its
   * thief has no key). Throws a BearerError.
   */
  async verify(token: string): Promise<AuthInfo> {
    const auth = await this.#answer(token);
    if (auth.jkt !== undefined) throw new InvalidToken('the access token is bound to a DPoP key: it cannot be used as a bearer token', 'ERR_TOKEN_BOUND');
    return auth;
  }

  /** Latch's answer for a token, whatever its scheme: from the cache, a shared in-flight call, or a new one. */
  #answer(token: string): Promise<AuthInfo> {
    const hash = tokenHash(token);
    const cached = this.cache?.get(hash);
    if (cached) return Promise.resolve(cached);
    const pending = this.#inflight.get(hash);
    if (pending) return pending;
    const generation = this.cache?.generation ?? 0;
    const started = this.#introspect(token).then((auth) => {
      this.cache?.set(hash, auth, generation);
      return auth;
    });
    this.#inflight.set(hash, started);
    const forget = () => void this.#inflight.delete(hash);
    started.then(forget, forget);
    return started;
  }

  /**
   * The RFC 6750 (and RFC 9449 §7.1) response for an error thrown by authenticate() or a guard;
   * rethrows anything else. `auth`, for a guard's error: a DPoP-bound token's is a DPoP challenge.
   */
  challenge(err: unknown, auth?: AuthInfo): BearerResponse {
    if (!(err instanceof BearerError)) throw err;
    const scoped = auth?.jkt !== undefined ? err.withScheme('DPoP') : err;
    return bearerResponse(scoped, this.options.realm, this.options.dpop ? { algorithms: this.options.dpop.algorithms } : undefined);
  }

  async close(): Promise<void> {
    await Promise.all([this.#http.close(), this.#subscriber?.close(), this.#dpop?.close()]);
  }

  async #introspect(token: string): Promise<AuthInfo> {
    try {
      const endpoint = await this.#resolveEndpoint();
      const credentials = await this.#credentials(endpoint.assertionAudience);
      return await introspect({ http: this.#http, endpoint, credentials, audience: this.options.audience, token });
    } catch (err) {
      if (err instanceof BearerError && !(err instanceof IntrospectionUnavailable)) throw err;
      const failure = err instanceof IntrospectionUnavailable ? err : new IntrospectionUnavailable(undefined, { cause: err });
      this.#logger.warn(
        { audience: this.options.audience, reason: failure.description, cause: (failure.cause as Error | undefined)?.message },
        'introspection failed: answering 503',
      );
      throw failure;
    }
  }

  #resolveEndpoint(): Promise<Endpoint> {
    const { introspectionEndpoint, issuer } = this.options;
    if (introspectionEndpoint) return Promise.resolve({ introspection: introspectionEndpoint, assertionAudience: issuer ?? '' });
    // Discovered once; a failed discovery is forgotten so the next request tries again.
    this.#endpoint ??= discover(this.#http, issuer!).catch((err: unknown) => {
      this.#endpoint = undefined;
      throw err;
    });
    return this.#endpoint;
  }
}

export function createResourceServer(options: ResourceServerOptions): ResourceServer {
  return new ResourceServer(options);
}
