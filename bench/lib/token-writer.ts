import { createHash } from 'node:crypto';
import type { AdapterPayload } from 'oidc-provider';
import { connectRedis } from '../../adapters/redis/connect.js';
import { redisAdapterFactory } from '../../adapters/redis/redis-adapter.js';
import { RedisStore } from '../../adapters/redis/redis-store.js';

/** Tokens per grant: a login's grant collects an access token per refresh. */
export const TOKENS_PER_GRANT = 10;
const BATCH_GRANTS = 1000;

/** A token-like value (43 base64url characters, like oidc-provider's 256-bit opaque tokens). */
function value(seed: string, kind: string, i: number): string {
  return createHash('sha256').update(`${seed}:${kind}:${i}`).digest('base64url');
}

export interface Templates {
  /** The stored payload of a real access token Latch issued at login (with its `jti`). */
  accessToken: AdapterPayload;
  grant: AdapterPayload;
}

/**
 * Writes access tokens straight into Redis through Latch's own adapter (`upsert`), so the records
 * are byte for byte what Latch writes at issuance (hash fields, lineage birth, grant and account
 * indices), without going through HTTP. Each batch writes its grants first: a token's birth is its
 * grant's, so a token written before its grant would be born dead.
 */
export class TokenWriter {
  readonly #store: RedisStore;
  readonly #adapter: ReturnType<typeof redisAdapterFactory>;
  readonly #templates: Templates;
  readonly #seed: string;

  constructor(redisUrl: string, tokenHashKey: string, templates: Templates, seed: string) {
    // A long command timeout: a batch of thousands of scripts is queued on one connection.
    const redis = connectRedis(redisUrl, { commandTimeoutMs: 120_000 });
    this.#store = new RedisStore(redis, Buffer.from(tokenHashKey, 'utf8'));
    this.#adapter = redisAdapterFactory(this.#store);
    this.#templates = templates;
    this.#seed = seed;
  }

  async connect(): Promise<void> {
    await this.#store.redis.connect();
  }

  /** Reads the stored payloads of a real access token and its grant, to clone them. */
  static async templatesOf(redisUrl: string, tokenHashKey: string, accessToken: string): Promise<Templates> {
    const redis = connectRedis(redisUrl);
    await redis.connect();
    try {
      const adapter = redisAdapterFactory(new RedisStore(redis, Buffer.from(tokenHashKey, 'utf8')));
      const token = await adapter('AccessToken').find(accessToken);
      if (!token?.grantId) throw new Error('the template access token was not found in Redis (or has no grant)');
      const grant = await adapter('Grant').find(token.grantId);
      if (!grant) throw new Error('the template grant was not found in Redis');
      return { accessToken: token, grant };
    } finally {
      redis.disconnect();
    }
  }

  close(): void {
    this.#store.redis.disconnect();
  }

  /** The Redis key of a stored access token (for MEMORY USAGE). */
  recordKey(token: string): string {
    return this.#store.keys.record('AccessToken', token);
  }

  /** The value of token `i` of `accountTag`'s series (the bench can introspect any of them). */
  token(accountTag: string, i: number): string {
    return value(this.#seed, `at:${accountTag}`, i);
  }

  /**
   * Writes tokens [from, to) of a series: token i belongs to grant floor(i / TOKENS_PER_GRANT),
   * whose account is `accountFor(grant)`. Grants are written only when `withGrants`.
   */
  async write(accountTag: string, from: number, to: number, accountFor: (grant: number) => string, withGrants = true): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    const grants = this.#adapter('Grant');
    const tokens = this.#adapter('AccessToken');
    const { accessToken, grant } = this.#templates;
    const grantTtl = Math.max(60, (grant.exp ?? now + 14 * 86400) - now);
    const tokenTtl = 3600;
    const firstGrant = Math.floor(from / TOKENS_PER_GRANT);
    const lastGrant = Math.ceil(to / TOKENS_PER_GRANT);
    for (let g0 = firstGrant; g0 < lastGrant; g0 += BATCH_GRANTS) {
      const g1 = Math.min(lastGrant, g0 + BATCH_GRANTS);
      if (withGrants) {
        const writes: Promise<void>[] = [];
        for (let g = g0; g < g1; g++) {
          const id = value(this.#seed, `g:${accountTag}`, g);
          writes.push(grants.upsert(id, { ...grant, jti: id, accountId: accountFor(g), iat: now, exp: now + grantTtl }, grantTtl));
        }
        await Promise.all(writes);
      }
      const writes: Promise<void>[] = [];
      for (let i = Math.max(from, g0 * TOKENS_PER_GRANT); i < Math.min(to, g1 * TOKENS_PER_GRANT); i++) {
        const g = Math.floor(i / TOKENS_PER_GRANT);
        const id = this.token(accountTag, i);
        const payload = { ...accessToken, jti: id, grantId: value(this.#seed, `g:${accountTag}`, g), accountId: accountFor(g), iat: now, exp: now + tokenTtl };
        writes.push(tokens.upsert(id, payload, tokenTtl));
      }
      await Promise.all(writes);
    }
  }

  /** Writes only the grants of tokens [from, to) (after a tokens-only memory measurement). */
  async writeGrants(accountTag: string, from: number, to: number, accountFor: (grant: number) => string): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    const grants = this.#adapter('Grant');
    const grantTtl = 14 * 86400;
    const writes: Promise<void>[] = [];
    for (let g = Math.floor(from / TOKENS_PER_GRANT); g < Math.ceil(to / TOKENS_PER_GRANT); g++) {
      const id = value(this.#seed, `g:${accountTag}`, g);
      writes.push(grants.upsert(id, { ...this.#templates.grant, jti: id, accountId: accountFor(g), iat: now, exp: now + grantTtl }, grantTtl));
      if (writes.length >= BATCH_GRANTS) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
  }
}
