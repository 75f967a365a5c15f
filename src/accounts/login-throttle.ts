import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { LoginThrottleConfig } from '../config/schema.js';
import { addressBucket } from '../rate-limit/client-address.js';

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number; scope: 'address' | 'account' };

/**
 * Brute-force protection for the login form (docs/operations.md has the policy in words):
 *
 * - Per username and address: after `perAddress` failures, each further attempt must wait,
 *   the wait doubling with every failure (1 s, 2 s, 4 s … capped at the window).
 * - Per username: after `perAccount` failures from anywhere, browsers that never signed in to
 *   this account are locked out until the window has passed since the last failure. Browsers that
 *   did (a signed "known device" cookie) keep the per-address rule only, so an attacker can slow
 *   a user down but cannot lock them out of their own devices.
 * - Counters expire after the window; a successful login clears the address counter.
 *
 * "Address" is the rate limits' bucket (addressBucket): an IPv4 address or an IPv6 /64, so
 * rotating through the addresses of one /64 counts as one address here too.
 */
export class LoginThrottle {
  readonly #store: RedisStore;
  readonly #policy: LoginThrottleConfig;

  constructor(store: RedisStore, policy: LoginThrottleConfig) {
    this.#store = store;
    this.#policy = policy;
  }

  async check(username: string, ip: string, knownDevice: boolean, now = Date.now()): Promise<ThrottleVerdict> {
    const { keys } = this.#store;
    const [address, account] = await this.#store.run((redis) =>
      Promise.all([redis.hmget(keys.loginFailures(username, addressBucket(ip)), 'n', 'last'), redis.hmget(keys.loginFailures(username), 'n', 'last')]),
    );
    const window = this.#policy.windowSeconds * 1000;
    const accountFailures = Number(account[0] ?? 0);
    if (!knownDevice && accountFailures >= this.#policy.perAccount) {
      const until = Number(account[1] ?? 0) + window;
      if (until > now) return { allowed: false, retryAfterSeconds: Math.ceil((until - now) / 1000), scope: 'account' };
    }
    const addressFailures = Number(address[0] ?? 0);
    if (addressFailures >= this.#policy.perAddress) {
      const wait = Math.min(1000 * 2 ** (addressFailures - this.#policy.perAddress), window);
      const until = Number(address[1] ?? 0) + wait;
      if (until > now) return { allowed: false, retryAfterSeconds: Math.ceil((until - now) / 1000), scope: 'address' };
    }
    return { allowed: true };
  }

  async failed(username: string, ip: string, now = Date.now()): Promise<void> {
    const { keys } = this.#store;
    const ttl = this.#policy.windowSeconds;
    await this.#store.run((redis) => {
      const pipe = redis.pipeline();
      for (const key of [keys.loginFailures(username, addressBucket(ip)), keys.loginFailures(username)]) {
        pipe.hincrby(key, 'n', 1).hset(key, 'last', now).expire(key, ttl);
      }
      return pipe.exec();
    });
  }

  /**
   * What a browser's "known device" cookie holds for a username it signed in to: bound to that
   * browser's own random id (the cookie's first part), so the tag is no constant of the username
   * that, once seen, would mark any browser as known.
   */
  deviceTag(username: string, browserId: string): string {
    return this.#store.keys.hash('device', `${browserId}\0${username.toLowerCase()}`);
  }

  async succeeded(username: string, ip: string): Promise<void> {
    await this.#store.run((redis) => redis.del(this.#store.keys.loginFailures(username, addressBucket(ip))));
  }
}
