import type { Redis } from 'ioredis';
import { decodeRecord, encodeRecord } from '../../adapters/redis/record-codec.js';
import { RedisKeys } from '../../adapters/redis/keys.js';
import { isPacked, packTokenPayload, unpackTokenPayload } from '../../adapters/redis/token-payload.js';

/** Only to build key names (recordKey needs no hash key). */
const KEYS = new RedisKeys(Buffer.from('records'));

/**
 * The stored payload of a record, as oidc-provider wrote it (a packed token payload unpacked:
 * token-payload.ts; a packed access token held in a grant gets its `accountId`, and a compact one
 * its `grantId`, from its grant, as Latch reads them).
 */
export async function storedPayload(redis: Redis, key: string): Promise<Record<string, unknown>> {
  const record = decodeRecord(await redis.get(key))!;
  const grant = record.g && isPacked(record.p) ? decodeRecord(await redis.get(KEYS.recordKey('g', record.g))) : undefined;
  return unpackTokenPayload(record.p, grant?.p);
}

/** Edits a stored payload in place, keeping the record's TTL and format (e.g. to move `exp` into the past). */
export async function rewritePayload(redis: Redis, key: string, edit: (payload: Record<string, unknown>) => void): Promise<void> {
  const record = decodeRecord(await redis.get(key))!;
  const payload = unpackTokenPayload(record.p);
  edit(payload);
  // Packed again as it was (what packing drops was dropped already).
  const p = isPacked(record.p) ? packTokenPayload('', payload) : JSON.stringify(payload);
  await redis.set(key, encodeRecord({ ...record, p }), 'KEEPTTL');
}
