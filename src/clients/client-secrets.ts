import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisKeys } from '../../adapters/redis/keys.js';
import type { StoredSecret } from '../../adapters/redis/client-records.js';

/** A new client secret: 256 random bits, base64url (43 characters, all RFC 6749 §2.3.1-safe). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** The secrets a client may authenticate with now: keyed hashes, each with its death (ms, 0 = never). */
export interface SecretCredential {
  current?: { hash: Buffer; expiresAt: number };
  previous?: { hash: Buffer; expiresAt: number };
}

/** A secret that matched: which one, and until when the match holds (ms; Infinity = no expiry). */
export interface SecretMatch {
  which: 'current' | 'previous';
  until: number;
}

const DOMAIN = 'client-secret';

/**
 * The one check of a presented client secret, for every endpoint that takes one: `/token` and
 * `/revoke` (oidc-provider's `compareClientSecret`, replaced in src/clients/secret-hook.ts) and
 * `/introspect` (src/introspection/client-authenticator.ts), for config clients and managed clients
 * alike. The presented secret is hashed with the same key as the stored hash and compared in
 * constant time with the current secret and, during a rotation's grace period, the previous one;
 * an expired secret matches nothing (RFC 7591 §3.2.1 `client_secret_expires_at`).
 */
export class ClientSecrets {
  readonly #keys: RedisKeys;

  constructor(keys: RedisKeys) {
    this.#keys = keys;
  }

  /** The keyed hash stored for `secret` of `clientId`. */
  hash(clientId: string, secret: string): Buffer {
    return this.#keys.secretDigest(DOMAIN, clientId, secret);
  }

  /** A stored secret for a new `secret`, dying at `expiresAt` (ms, 0 = never). */
  stored(clientId: string, secret: string, now: number, expiresAt = 0): StoredSecret {
    return { hash: this.hash(clientId, secret).toString('base64url'), issued_at: now, expires_at: expiresAt };
  }

  /** The credential of stored secrets. */
  static credential(current: StoredSecret | undefined, previous: StoredSecret | undefined): SecretCredential {
    const decode = (s: StoredSecret) => ({ hash: Buffer.from(s.hash, 'base64url'), expiresAt: s.expires_at });
    return { ...(current ? { current: decode(current) } : {}), ...(previous ? { previous: decode(previous) } : {}) };
  }

  /** Whether `presented` is a live secret of the client (see the class comment), and until when. */
  verify(clientId: string, credential: SecretCredential, presented: string, now = Date.now()): SecretMatch | undefined {
    const hash = this.hash(clientId, presented);
    // Both compared whatever the first says: the time taken does not tell which one matched.
    const current = credential.current ? timingSafeEqual(hash, credential.current.hash) : false;
    const previous = credential.previous ? timingSafeEqual(hash, credential.previous.hash) : false;
    const alive = (s: { expiresAt: number }) => s.expiresAt === 0 || now < s.expiresAt;
    const until = (s: { expiresAt: number }) => (s.expiresAt === 0 ? Infinity : s.expiresAt);
    if (current && alive(credential.current!)) return { which: 'current', until: until(credential.current!) };
    if (previous && alive(credential.previous!)) return { which: 'previous', until: until(credential.previous!) };
    return undefined;
  }
}
