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

  /** Creates the account unless the username is taken; returns whether it was created. */
  async create(input: AccountConfig): Promise<boolean> {
    const { keys } = this.#store;
    const sub = input.sub ?? input.username;
    const claimed = await this.#store.run((redis) => redis.set(keys.username(input.username), sub, 'NX'));
    if (claimed !== 'OK') return false;
    const password = await hashPassword(input.password);
    await this.#store.run((redis) =>
      redis.hset(keys.account(sub), {
        username: input.username,
        password,
        email: input.email ?? '',
        name: input.name ?? '',
        roles: input.roles.join(' '),
        disabled: '0',
      }),
    );
    return true;
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

  /** Deletes the account and its username; its tokens read as inactive from then on. */
  async delete(account: Account): Promise<void> {
    const { keys } = this.#store;
    await this.#store.run((redis) => Promise.all([redis.del(keys.account(account.sub)), redis.del(keys.username(account.username))]));
  }

  async seed(accounts: readonly AccountConfig[]): Promise<number> {
    const created = await Promise.all(accounts.map((a) => this.create(a)));
    return created.filter(Boolean).length;
  }
}
