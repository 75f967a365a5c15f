import { createHash } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JSONWebKeySet } from 'jose';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { ClientRegistry, KnownClient } from '../clients/client-registry.js';
import type { SecretMatch } from '../clients/client-secrets.js';
import { InvalidClient, InvalidRequest } from '../errors/oauth-error.js';
import { assertionProblem, ASSERTION_ALGS, CLOCK_TOLERANCE_SECONDS, JWT_BEARER } from '../provider/client-assertion.js';

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** The client parameters of an introspection request (each present at most once: the endpoint checked). */
export interface ClientParams {
  client_id?: string;
  client_secret?: string;
  client_assertion?: string;
  client_assertion_type?: string;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

const MISMATCH = 'the provided authentication mechanism does not match the registered client authentication method';

/**
 * Client authentication of the introspection endpoint, for every method Latch advertises there
 * (discovery's `introspection_endpoint_auth_methods_supported`): `client_secret_basic`,
 * `client_secret_post` and `private_key_jwt`. A client authenticates only with its registered
 * method's family (a secret for the secret methods, an assertion for private_key_jwt); public
 * clients (`none`) cannot introspect. Anything else is 401 `invalid_client`.
 *
 * Clients come from the ClientRegistry (config and managed alike). Secrets are checked by the one
 * secret check (ClientSecrets.verify: keyed hashes, constant time, rotation grace); a Basic header
 * already verified is one SHA-256 and a Map lookup (a resource server sends the same header on
 * every call): it is neither parsed nor decoded again. That memory is bounded, holds a verification
 * only until the secret it matched dies, and is forgotten whenever a client changes on any instance
 * (the registry's drop, on every live announcement). Assertions cost a signature check and one
 * `SET NX` (their `jti` is single-use everywhere).
 */
export class ClientAuthenticator {
  readonly #registry: ClientRegistry;
  readonly #keys = new Map<string, { jwks: unknown; keys: ReturnType<typeof createLocalJWKSet> }>();
  readonly #issuer: string;
  readonly #store: RedisStore;
  /**
   * Basic headers already verified: SHA-256 of the header → client id, and until when (the death
   * of the secret it matched). Never the header in clear: a heap dump shows digests only. (A form
   * post's secret costs one keyed hash to verify: no gain.) Bounded; only successes are kept, so a
   * wrong secret is always re-checked in constant time.
   */
  readonly #verified = new Map<string, { clientId: string; until: number }>();
  static readonly MAX_VERIFIED = 1024;

  constructor(registry: ClientRegistry, options: { issuer: string; store: RedisStore }) {
    this.#registry = registry;
    this.#issuer = options.issuer;
    this.#store = options.store;
    registry.onDrop(() => {
      this.forgetVerified();
      this.#keys.clear();
    });
  }

  /** Returns the authenticated client id, or throws 400 `invalid_request` / 401 `invalid_client`. */
  async authenticate(authorization: string | undefined, params: ClientParams): Promise<{ clientId: string; method: ClientAuthMethod }> {
    const presented = [authorization !== undefined, params.client_secret !== undefined, params.client_assertion !== undefined].filter(Boolean).length;
    if (presented > 1) throw new InvalidRequest('client authentication must only be provided using one mechanism');
    if (authorization !== undefined) return { clientId: await this.#basicClient(authorization, params), method: 'client_secret_basic' };
    if (params.client_secret !== undefined) {
      if (!params.client_id) throw new InvalidRequest('client_secret needs client_id');
      return { clientId: await this.#secret(params.client_id, params.client_secret), method: 'client_secret_post' };
    }
    if (params.client_assertion !== undefined) return { clientId: await this.#assertion(params), method: 'private_key_jwt' };
    if (params.client_id !== undefined && (await this.#registry.find(params.client_id))) {
      throw new InvalidClient('client authentication is required (public clients cannot introspect)');
    }
    throw new InvalidClient('client authentication is required');
  }

  /**
   * Forgets every verified credential, so a changed secret or authentication method applies at once.
   * The registry's drop calls it on every client change, on any instance (live updates).
   */
  forgetVerified(): void {
    this.#verified.clear();
  }

  async #basicClient(authorization: string, params: ClientParams): Promise<string> {
    const memo = digest(authorization).toString('base64');
    const known = this.#verified.get(memo);
    // The body may still name a client: it must be the header's (as when the header is parsed).
    if (known && Date.now() < known.until && (params.client_id === undefined || params.client_id === known.clientId)) return known.clientId;
    const [clientId, secret] = this.#basic(authorization, params);
    const match = await this.#check(clientId, secret);
    if (this.#verified.size >= ClientAuthenticator.MAX_VERIFIED) this.#verified.clear();
    this.#verified.set(memo, { clientId, until: match.until });
    return clientId;
  }

  /** The one secret check (ClientSecrets.verify) for this client, or 401 `invalid_client`. */
  async #check(clientId: string, secret: string): Promise<SecretMatch> {
    const client = this.#registry.peek(clientId) ?? (await this.#registry.find(clientId));
    const match = this.#registry.secrets.verify(clientId, client?.credential ?? {}, secret);
    if (client && !client.credential.current) throw new InvalidClient(MISMATCH);
    if (!client || !match) throw new InvalidClient();
    return match;
  }

  #basic(authorization: string, params: ClientParams): [string, string] {
    const [scheme, value, extra] = authorization.split(' ');
    if (scheme?.toLowerCase() !== 'basic' || !value || extra !== undefined) {
      throw new InvalidClient('unsupported Authorization header: use Basic (client_secret_basic)');
    }
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw new InvalidRequest('invalid authorization header value format');
    let clientId: string;
    let secret: string;
    try {
      clientId = formDecode(decoded.slice(0, colon));
      secret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw new InvalidRequest('client_id and client_secret in the authorization header are not properly encoded');
    }
    if (params.client_id !== undefined && params.client_id !== clientId) throw new InvalidRequest('mismatch in body and authorization client ids');
    if (!secret) throw new InvalidRequest('client_secret must be provided in the Authorization header');
    return [clientId, secret];
  }

  async #secret(clientId: string, secret: string): Promise<string> {
    await this.#check(clientId, secret);
    return clientId;
  }

  /** The client's key set (private_key_jwt clients only), built once per registration. */
  #keySet(client: KnownClient | undefined): ReturnType<typeof createLocalJWKSet> | undefined {
    if (!client || client.method !== 'private_key_jwt' || !client.jwks) return undefined;
    const cached = this.#keys.get(client.clientId);
    if (cached && cached.jwks === client.jwks) return cached.keys;
    const keys = createLocalJWKSet(client.jwks as JSONWebKeySet);
    this.#keys.set(client.clientId, { jwks: client.jwks, keys });
    return keys;
  }

  /** RFC 7523 §3 with Latch's rules (src/provider/client-assertion.ts). */
  async #assertion(params: ClientParams): Promise<string> {
    if (params.client_assertion_type === undefined) throw new InvalidRequest('client_assertion_type must be provided');
    if (params.client_assertion_type !== JWT_BEARER) throw new InvalidRequest(`client_assertion_type must have value ${JWT_BEARER}`);
    let sub: unknown;
    try {
      ({ sub } = decodeJwt(params.client_assertion!));
    } catch {
      throw new InvalidRequest('invalid client_assertion format');
    }
    if (typeof sub !== 'string' || !sub) throw new InvalidClient('sub (JWT subject) must be provided in the client_assertion JWT');
    if (params.client_id !== undefined && params.client_id !== sub) throw new InvalidRequest('client_id mismatch');
    const client = await this.#registry.find(sub);
    const keys = this.#keySet(client);
    if (!keys) throw new InvalidClient(client ? MISMATCH : undefined);

    let payload;
    try {
      ({ payload } = await jwtVerify(params.client_assertion!, keys, {
        algorithms: ASSERTION_ALGS,
        issuer: sub,
        subject: sub,
        requiredClaims: ['exp', 'jti'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (err) {
      const reason = err instanceof joseErrors.JOSEError ? err.message : 'invalid signature';
      throw new InvalidClient(`the client assertion is invalid: ${reason}`);
    }
    const now = Math.floor(Date.now() / 1000);
    const problem = assertionProblem(payload, this.#issuer, now);
    if (problem) throw new InvalidClient(problem);

    // Single use, atomically, in oidc-provider's ReplayDetection key space: spent here, it is spent
    // at /token too, and the reverse. Kept as long as oidc-provider keeps its own (exp + tolerance).
    const exp = payload.exp! + CLOCK_TOLERANCE_SECONDS;
    const { keys: redisKeys } = this.#store;
    const fresh = await this.#store.run(() =>
      this.#store.claimOnce(redisKeys.replayDetection(sub, String(payload.jti)), (exp - now + CLOCK_TOLERANCE_SECONDS) * 1000, { iat: now, exp, iss: sub }),
    );
    if (!fresh) throw new InvalidClient('client assertion tokens must only be used once');
    return sub;
  }
}
