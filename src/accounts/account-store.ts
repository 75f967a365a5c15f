import type { AccountCreation, RedisStore } from '../../adapters/redis/redis-store.js';
import type { AccountConfig } from '../config/schema.js';
import { decoyHash, hashPassword, needsRehash, verifyPassword } from './password.js';

export interface Account {
  sub: string;
  username: string;
  email?: string;
  name?: string;
  roles: string[];
  disabled: boolean;
  /** The next login asks for a new password before it finishes. */
  passwordChangeRequired: boolean;
  /** False for an account created without a password (until its set-up link is used) or whose password was revoked. */
  hasPassword: boolean;
  createdAt?: number;
  passwordChangedAt?: number;
}

/** An account to create: its password, if any, already hashed (Latch's scrypt, or an imported hash). */
export interface NewAccount {
  sub: string;
  username: string;
  email?: string;
  name?: string;
  roles: readonly string[];
  passwordHash?: string;
  passwordChangeRequired?: boolean;
  disabled?: boolean;
}

/** What creating an account did; `deleted`: the subject belonged to a deleted account (never re-created). */
export type CreateOutcome = 'created' | 'exists' | 'deleted' | 'taken';

/** What a subject is now: never used, a live account, or a deleted account's tombstone. */
export type SubjectState = 'free' | 'live' | 'deleted';

function toAccount(sub: string, fields: Record<string, string>): Account | undefined {
  if (!fields.username) return undefined;
  return {
    sub,
    username: fields.username,
    email: fields.email || undefined,
    name: fields.name || undefined,
    roles: fields.roles ? fields.roles.split(' ') : [],
    disabled: fields.disabled === '1',
    passwordChangeRequired: fields.must_change === '1',
    hasPassword: !!fields.password,
    createdAt: fields.created ? Number(fields.created) : undefined,
    passwordChangedAt: fields.password_changed ? Number(fields.password_changed) : undefined,
  };
}

/**
 * Accounts live in Redis (one hash per account plus a username index and the account list's
 * indices), so every Latch instance sees the same users. Demo accounts from the config file are
 * created on start-up if absent; an existing account (and its password) is never overwritten by
 * the seed.
 */
export class AccountStore {
  readonly #store: RedisStore;

  constructor(store: RedisStore) {
    this.#store = store;
  }

  async findBySub(sub: string): Promise<Account | undefined> {
    const fields = await this.#store.run((redis) => redis.hgetall(this.#store.keys.account(sub)));
    return toAccount(sub, fields);
  }

  async findByUsername(username: string): Promise<Account | undefined> {
    const sub = await this.#store.run((redis) => redis.get(this.#store.keys.username(username)));
    return sub ? this.findBySub(sub) : undefined;
  }

  /**
   * Checks a username and password. Unknown users cost the same scrypt work as known ones, and the
   * caller learns only "valid or not" (no hint which part was wrong). A password verified against an
   * imported hash (or Latch's scrypt at older parameters) is re-hashed with Latch's scrypt now,
   * unless the password changed meanwhile.
   */
  async authenticate(username: string, password: string): Promise<Account | undefined> {
    const { keys } = this.#store;
    const sub = await this.#store.run((redis) => redis.get(keys.username(username)));
    const hash = sub ? await this.#store.run((redis) => redis.hget(keys.account(sub), 'password')) : null;
    const ok = await verifyPassword(password, hash ?? (await decoyHash()));
    if (!ok || !sub || !hash) return undefined;
    if (needsRehash(hash)) {
      const upgraded = await hashPassword(password);
      await this.#store.run(() => this.#store.rehashPassword(sub, hash, upgraded));
    }
    const account = await this.findBySub(sub);
    return account && !account.disabled ? account : undefined;
  }

  /** Whether `password` is the account's current password (self-service change: the user is known already). */
  async verifyCurrentPassword(sub: string, password: string): Promise<boolean> {
    const hash = await this.#store.run((redis) => redis.hget(this.#store.keys.account(sub), 'password'));
    return verifyPassword(password, hash ?? (await decoyHash())).then((ok) => ok && !!hash);
  }

  async subjectState(sub: string): Promise<SubjectState> {
    const [username, deleted] = await this.#store.run((redis) => redis.hmget(this.#store.keys.account(sub), 'username', 'deleted'));
    return username ? 'live' : deleted ? 'deleted' : 'free';
  }

  /**
   * Creates the account unless its subject already has an account hash (live, or the tombstone of
   * a deleted account: a deleted subject is never re-created, by the seed or anyone) or the
   * username is taken.
   */
  async createAccount(input: NewAccount): Promise<CreateOutcome> {
    const fields: Record<string, string> = {
      sub: input.sub,
      username: input.username,
      email: input.email ?? '',
      name: input.name ?? '',
      roles: input.roles.join(' '),
      disabled: input.disabled ? '1' : '0',
      must_change: input.passwordChangeRequired ? '1' : '0',
      created: String(Date.now()),
    };
    if (input.passwordHash) Object.assign(fields, { password: input.passwordHash, password_changed: String(Date.now()) });
    const outcome: AccountCreation = await this.#store.run(() => this.#store.createAccount(input.username, input.sub, fields));
    if (outcome !== 'exists') return outcome;
    return (await this.subjectState(input.sub)) === 'deleted' ? 'deleted' : 'exists';
  }

  /** Creates a config file account (the seed); returns whether it was created. An existing one is only (re-)listed. */
  async create(input: AccountConfig): Promise<boolean> {
    const sub = input.sub ?? input.username;
    // Cheap early answer for the common case (the seed at every start): no scrypt for nothing.
    const existing = await this.findBySub(sub);
    if (existing) {
      await this.#ensureListed(existing);
      return false;
    }
    if ((await this.subjectState(sub)) === 'deleted') return false;
    const passwordHash = await hashPassword(input.password);
    return (await this.createAccount({ ...input, sub, passwordHash })) === 'created';
  }

  /**
   * Accounts created before the account list existed have no list entries and no `sub` field:
   * the seed adds both for the config's accounts (idempotent), so an upgraded deployment lists them.
   */
  async #ensureListed(account: Account): Promise<void> {
    await this.#store.run(async () => {
      await this.#store.updateLiveAccount(account.sub, { sub: account.sub });
      await this.#store.indexAccount(account.sub, account.username, account.email);
    });
  }

  /** Changes the profile (undefined: unchanged, null: removed); the updated account, or undefined when it is gone. */
  async updateProfile(account: Account, change: { email?: string | null; name?: string | null }): Promise<Account | undefined> {
    const set: Record<string, string> = {};
    if (change.email !== undefined) set.email = change.email ?? '';
    if (change.name !== undefined) set.name = change.name ?? '';
    const updated = await this.#store.run(() => this.#store.updateLiveAccount(account.sub, set));
    if (!updated) return undefined;
    if (change.email !== undefined && change.email !== (account.email ?? null)) {
      await this.#store.run(async () => {
        await this.#store.unindexAccount(account.sub, account.username, account.email);
        await this.#store.indexAccount(account.sub, account.username, change.email ?? undefined);
      });
    }
    return this.findBySub(account.sub);
  }

  /**
   * Sets the password hash ('' removes the password) and whether a change is required at the next
   * login, if `ticket` (when given) is still valid; every ticket of the account ends with it.
   */
  setPasswordHash(sub: string, hash: string, mustChange: boolean, ticket?: { field: 'reset' | 'pwc'; hash: string }) {
    return this.#store.run(() => this.#store.setPassword(sub, hash, mustChange, ticket));
  }

  /** Asks for (or stops asking for) a new password at the next login; false when the account is gone. */
  requirePasswordChange(sub: string, required: boolean): Promise<boolean> {
    return this.#store.run(() => this.#store.updateLiveAccount(sub, { must_change: required ? '1' : '0' }));
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
   * seeded again; the username (free for an account with another subject), profile, password,
   * reset links, list entries and login history go. Its tokens read as inactive from then on.
   */
  async delete(account: Account): Promise<void> {
    await this.#store.run(() => this.#store.tombstoneAccount(account.sub, account.username, account.email));
  }

  async seed(accounts: readonly AccountConfig[]): Promise<number> {
    const created = await Promise.all(accounts.map((a) => this.create(a)));
    return created.filter(Boolean).length;
  }
}
