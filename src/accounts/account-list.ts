import { accountIndexMember, type RedisStore } from '../../adapters/redis/redis-store.js';
import type { Account, AccountStore } from './account-store.js';

export interface AccountQuery {
  /** Accounts whose username starts with this (case-insensitive); '' lists every account. */
  prefix?: string;
  /** Accounts whose email starts with this (case-insensitive); a whole address finds its owners. */
  email?: string;
  /** Where the previous page ended (its `nextCursor`). */
  cursor?: string;
  limit: number;
}

export interface AccountPage {
  accounts: Account[];
  /** Present when there may be more: pass it as `cursor` for the next page. */
  nextCursor?: string;
}

/** A cursor that is not one this listing gave out (another search, or tampered with). */
export class BadCursor extends Error {}

/**
 * The admin API's account list and search: one ZRANGEBYLEX on the username or email index
 * (keys.ts `accountsByUsername`, `accountsByEmail`), never KEYS or SCAN, then the accounts of the
 * page read together. Sorted by username (or email), lower-cased. The cursor is the last index
 * member of the page, so a page is stable under concurrent creations and deletions: nothing is
 * shown twice, and accounts created behind the cursor are simply not on later pages.
 *
 * An index entry whose account is gone or changed (a crash between the account write and its index
 * write on a Redis Cluster, a concurrent profile update) is skipped and removed here.
 */
export async function listAccounts(store: RedisStore, accounts: AccountStore, query: AccountQuery): Promise<AccountPage> {
  const byEmail = query.email !== undefined;
  const index = byEmail ? store.keys.accountsByEmail() : store.keys.accountsByUsername();
  const prefix = (byEmail ? query.email! : (query.prefix ?? '')).toLowerCase();
  const kind = byEmail ? 'e' : 'u';
  let start = prefix ? `[${prefix}` : '-';
  if (query.cursor !== undefined) {
    const decoded = Buffer.from(query.cursor, 'base64url').toString('utf8');
    if (!decoded.startsWith(`${kind}:${prefix}`) || Buffer.from(decoded, 'utf8').toString('base64url') !== query.cursor) throw new BadCursor();
    start = `(${decoded.slice(2)}`;
  }
  // Every member starting with `prefix` sorts below `prefix` + U+FFFF (usernames and emails hold no such character).
  const end = prefix ? `[${prefix}\uffff` : '+';
  const members = await store.run((redis) => redis.zrangebylex(index, start, end, 'LIMIT', 0, query.limit));
  const subs = members.map((member) => member.slice(member.indexOf('\0') + 1));
  const found = await Promise.all(subs.map((sub) => accounts.findBySub(sub)));
  const stale: string[] = [];
  const page: Account[] = [];
  found.forEach((account, i) => {
    const current = account && accountIndexMember((byEmail ? account.email : account.username) ?? '', account.sub);
    if (account && current === members[i]) page.push(account);
    else stale.push(members[i]!);
  });
  if (stale.length) await store.run((redis) => redis.zrem(index, ...stale));
  const last = members.at(-1);
  return { accounts: page, ...(members.length === query.limit && last ? { nextCursor: Buffer.from(`${kind}:${last}`, 'utf8').toString('base64url') } : {}) };
}
