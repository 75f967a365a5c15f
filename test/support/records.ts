import type { Redis } from 'ioredis';
import { decodeRecord, encodeRecord } from '../../adapters/redis/record-codec.js';

/** The stored payload JSON of a record, as Redis holds it. */
export async function storedPayload(redis: Redis, key: string): Promise<Record<string, unknown>> {
  return JSON.parse(decodeRecord(await redis.get(key))!.p);
}

/** Edits a stored payload in place, keeping the record's TTL (e.g. to move `exp` into the past). */
export async function rewritePayload(redis: Redis, key: string, edit: (payload: Record<string, unknown>) => void): Promise<void> {
  const record = decodeRecord(await redis.get(key))!;
  const payload = JSON.parse(record.p);
  edit(payload);
  await redis.set(key, encodeRecord({ ...record, p: JSON.stringify(payload) }), 'KEEPTTL');
}
