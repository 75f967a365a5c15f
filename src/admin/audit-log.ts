import type { RedisStore } from '../../adapters/redis/redis-store.js';

export interface AuditEntry {
  /** Stream id: time-ordered, usable as a cursor (`after`). */
  id: string;
  actor: string;
  action: string;
  target: string;
  reason: string;
  /** Tokens affected (for revocations), 0 otherwise. */
  count: number;
  at: number;
  /** Extra detail (e.g. roles before and after). */
  detail?: Record<string, unknown>;
}

const MAX_ENTRIES = 1_000_000;

/** Every admin write, appended to a Redis Stream (capped) and readable through the admin API. */
export class AuditLog {
  readonly #store: RedisStore;

  constructor(store: RedisStore) {
    this.#store = store;
  }

  async append(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<AuditEntry> {
    const at = Date.now();
    const fields = ['actor', entry.actor, 'action', entry.action, 'target', entry.target, 'reason', entry.reason, 'count', String(entry.count), 'at', String(at)];
    if (entry.detail) fields.push('detail', JSON.stringify(entry.detail));
    const id = await this.#store.run((redis) => redis.xadd(this.#store.keys.auditStream(), 'MAXLEN', '~', MAX_ENTRIES, '*', ...fields));
    return { id: id!, ...entry, at };
  }

  /** Entries after the cursor `after` (exclusive), oldest first. */
  async read(after: string | undefined, limit: number): Promise<AuditEntry[]> {
    const start = after ? `(${after}` : '-';
    const rows = await this.#store.run((redis) => redis.xrange(this.#store.keys.auditStream(), start, '+', 'COUNT', limit));
    return rows.map(toEntry);
  }

  /** The newest entries, newest last. */
  async tail(limit: number): Promise<AuditEntry[]> {
    const rows = await this.#store.run((redis) => redis.xrevrange(this.#store.keys.auditStream(), '+', '-', 'COUNT', limit));
    return rows.reverse().map(toEntry);
  }
}

function toEntry([id, flat]: [string, string[]]): AuditEntry {
  const f: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  return {
    id,
    actor: f.actor ?? '',
    action: f.action ?? '',
    target: f.target ?? '',
    reason: f.reason ?? '',
    count: Number(f.count ?? 0),
    at: Number(f.at ?? 0),
    ...(f.detail ? { detail: JSON.parse(f.detail) as Record<string, unknown> } : {}),
  };
}
