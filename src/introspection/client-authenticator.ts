import { createHash, timingSafeEqual } from 'node:crypto';
import type { ClientConfig } from '../config/schema.js';
import { InvalidClient, InvalidRequest } from '../errors/oauth-error.js';

export type ClientCredentials =
  | { kind: 'secret'; clientId: string; secret: string; method: 'client_secret_basic' | 'client_secret_post' }
  /** Anything else (private_key_jwt, mTLS): handed to oidc-provider's own client authentication. */
  | { kind: 'other' };

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

/**
 * Reads the client credentials of a request the cheap way (no JWT, no lookup): HTTP Basic or
 * `client_secret_post`. Throws `invalid_request` for a malformed header, like oidc-provider.
 */
export function readCredentials(authorization: string | undefined, params: URLSearchParams): ClientCredentials | undefined {
  if (params.has('client_assertion') || params.has('client_assertion_type')) return { kind: 'other' };
  if (authorization) {
    const [scheme, value] = authorization.split(' ');
    if (scheme?.toLowerCase() !== 'basic' || !value) return { kind: 'other' };
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
    if (params.has('client_id') && params.get('client_id') !== clientId) {
      throw new InvalidRequest('mismatch in body and authorization client ids');
    }
    if (!secret) throw new InvalidRequest('client_secret must be provided in the Authorization header');
    return { kind: 'secret', clientId, secret, method: 'client_secret_basic' };
  }
  const clientId = params.get('client_id');
  const secret = params.get('client_secret');
  if (clientId && secret) return { kind: 'secret', clientId, secret, method: 'client_secret_post' };
  if (clientId) return { kind: 'other' };
  return undefined;
}

/**
 * Verifies client secrets in constant time against digests computed once at start-up
 * (secrets are static config), so authenticating a resource server costs one SHA-256.
 */
export class ClientAuthenticator {
  readonly #clients = new Map<string, Buffer>();
  /**
   * Credentials already verified (client id + secret → ok). A resource server sends the same
   * Basic header on every call; after the first, it costs a Map lookup instead of a SHA-256.
   * Bounded; only successes are kept, so a wrong secret is always re-checked in constant time.
   */
  readonly #verified = new Map<string, string>();
  static readonly MAX_VERIFIED = 1024;

  constructor(clients: readonly ClientConfig[]) {
    for (const client of clients) {
      if (client.client_secret) {
        this.#clients.set(client.client_id, digest(client.client_secret));
      }
    }
  }

  /** Whether this client authenticates with a shared secret (the lean path can serve it). */
  usesSecret(clientId: string): boolean {
    return this.#clients.has(clientId);
  }

  /**
   * Returns the authenticated client id or throws 401 `invalid_client`. Either secret method is
   * accepted for a secret client, as oidc-provider 9 does (the differential test pins this).
   */
  authenticate(credentials: Extract<ClientCredentials, { kind: 'secret' }>): string {
    const memo = `${credentials.clientId}\0${credentials.secret}`;
    const known = this.#verified.get(memo);
    if (known) return known;
    const expected = this.#clients.get(credentials.clientId);
    const presented = digest(credentials.secret);
    const same = timingSafeEqual(presented, expected ?? presented);
    if (!expected || !same) throw new InvalidClient();
    if (this.#verified.size >= ClientAuthenticator.MAX_VERIFIED) this.#verified.clear();
    this.#verified.set(memo, credentials.clientId);
    return credentials.clientId;
  }
}
