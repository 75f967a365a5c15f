import type { RedisStore } from '../../adapters/redis/redis-store.js';
import type { AccountConfig } from '../config/schema.js';
import { decoyHash, hashPassword, verifyPassword } from './password.js';


export interface Account {
  sub: string;
  username: string;
  email?: string;
  name?: string;
  roles: string[];
  disabled: boolean;
}

/**
 * Accounts live in Redis (one hash per account plus a username index), so every Latch instance sees
 * the same users. Demo accounts from the config file are created on start-up if absent; an existing
 * account (and its password) is never overwritten by the seed.
 */
export class AccountStore {
  readonly #store: RedisStore;

  constructor(store: RedisStore) {
    this.#store = store;
  }

  async findBySub(sub: string): Promise<Account | undefined> {
    const fields = await this.#store.run((redis) => redis.hgetall(this.#store.keys.account(sub)));
    if (!fields.username) return undefined;
    return {
      sub,
      username: fields.username,
      email: fields.email || undefined,
      name: fields.name || undefined,
      roles: fields.roles ? fields.roles.split(' ') : [],
      disabled: fields.disabled === '1',
    };
  }

  async findByUsername(username: string): Promise<Account | undefined> {
    const sub = await this.#store.run((redis) => redis.get(this.#store.keys.username(username)));
    return sub ? this.findBySub(sub) : undefined;
  }

  /**
   * Checks a username and password. Unknown users cost the same scrypt work as known ones, and the
   * caller learns only "valid or not" (no hint which part was wrong).
   */
  async authenticate(username: string, password: string): Promise<Account | undefined> {
    const { keys } = this.#store;
    const sub = await this.#store.run((redis) => redis.get(keys.username(username)));
    const hash = sub ? await this.#store.run((redis) => redis.hget(keys.account(sub), 'password')) : null;
    const ok = await verifyPassword(password, hash ?? (await decoyHash()));
    if (!ok || !sub || !hash) return undefined;
    const account = await this.findBySub(sub);
    return account && !account.disabled ? account : undefined;
  }

  /**
   * Creates the account unless its subject already has an account hash (live, or the tombstone of
   * a deleted account: a deleted subject is never re-created, by the seed or anyone) or the
   * username is taken; returns whether it was created.
   */
  async create(input: AccountConfig): Promise<boolean> {
    const sub = input.sub ?? input.username;
    // Cheap early answer for the common case (the seed at every start): no scrypt for nothing.
    if (await this.#store.run((redis) => redis.exists(this.#store.keys.account(sub)))) return false;
    const password = await hashPassword(input.password);
    const fields = { username: input.username, password, email: input.email ?? '', name: input.name ?? '', roles: input.roles.join(' '), disabled: '0' };
    return (await this.#store.run(() => this.#store.createAccount(input.username, sub, fields))) === 'created';
  }

  /** Replaces the account's roles; returns the previous ones. */
  async setRoles(sub: string, roles: readonly string[]): Promise<string[]> {
    const key = this.#store.keys.account(sub);
    const [previous] = await this.#store.run(async (redis) => {
      const reply = await redis.multi().hget(key, 'roles').hset(key, 'roles', roles.join(' ')).exec();
      return [String(reply?.[0]?.[1] ?? '')];
    });
    return previous ? previous.split(' ') : [];
  }

  /**
   * Deletes the account, keeping a tombstone: the hash is reduced to `disabled` = 1, its revocation
   * epochs and a `deleted` time (ms), so nothing born before stays alive and the subject is never
   * seeded again; the username (free for an account with another subject), profile, password and
   * login history go. Its tokens read as inactive from then on.
   */
  async delete(account: Account): Promise<void> {
    await this.#store.run(() => this.#store.tombstoneAccount(account.sub, account.username));
  }

  async seed(accounts: readonly AccountConfig[]): Promise<number> {
    const created = await Promise.all(accounts.map((a) => this.create(a)));
    return created.filter(Boolean).length;
  }
}
