import type { Redis } from 'ioredis';
import { decodeRecord, encodeRecord } from '../../adapters/redis/record-codec.js';
import { isPacked, packTokenPayload, unpackTokenPayload } from '../../adapters/redis/token-payload.js';

/**
 * The stored payload of a record, as oidc-provider wrote it (a packed token payload unpacked:
 * token-payload.ts; a packed access token held in a grant has no `accountId` here, its grant has it).
 */
export async function storedPayload(redis: Redis, key: string): Promise<Record<string, unknown>> {
  return unpackTokenPayload(decodeRecord(await redis.get(key))!.p);
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
