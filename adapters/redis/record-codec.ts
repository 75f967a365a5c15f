import { unpackTokenPayload } from './token-payload.js';

/**
 * Records are stored as one Redis string (not a hash): a hash whose payload exceeds 64 bytes
 * switches to Redis's `hashtable` encoding and costs about twice the memory. Layout, fields
 * separated by US (0x1F), which JSON text never contains unescaped:
 *
 *   t ␟ c ␟ a ␟ k ␟ g ␟ s ␟ p
 *
 *   t  birth (ms, Redis clock; a grant's tokens carry the grant's birth: their lineage)
 *   c  consumed at (epoch s) or empty      a  account hash or empty     k  client_id or empty
 *   g  grant hash or empty                 s  session-uid hash or empty (session-bound tokens)
 *   p  payload JSON without `jti`, `kind` and `clientId` (the key, the model and `k` say those);
 *      a token's packed (token-payload.ts)
 *
 * A compact access token (held in a grant whose payload keeps the grant's id) has `t` empty, `a`
 * empty on one server and no grant id in `p`: its grant's record holds the three (scripts.ts
 * WRITE_RECORD; readers take them from the grant, as FETCH and RedisStore.readPayload do).
 */
export const SEP = '\x1f';

/**
 * What a deleted account-bound record (a browser session, a grant) leaves behind until its TTL: a
 * value no reader decodes (it has one separator, a record has six), that the UPSERT script refuses
 * to overwrite. A request that loaded the record before it was deleted and saves it afterwards
 * (oidc-provider re-saves the session in a `finally`) therefore cannot bring it back.
 */
export const TOMBSTONE = `${SEP}deleted`;

export interface StoredRecord {
  t: string;
  c: string;
  a: string;
  k: string;
  g: string;
  s: string;
  p: string;
}

export function encodeRecord(r: StoredRecord): string {
  return [r.t, r.c, r.a, r.k, r.g, r.s, r.p].join(SEP);
}

export function decodeRecord(value: string | null | undefined): StoredRecord | undefined {
  if (!value) return undefined;
  const parts = value.split(SEP);
  if (parts.length < 7) return undefined;
  const [t, c, a, k, g, s] = parts as [string, string, string, string, string, string];
  return { t, c, a, k, g, s, p: parts.slice(6).join(SEP) };
}

/**
 * The payload as oidc-provider wrote it, given back its model and client (dropped on write). A
 * packed token payload (token-payload.ts) is unpacked; an access token's `accountId` then comes
 * from `grantPayload` (its grant's payload JSON), when given.
 */
export function payloadOf(record: StoredRecord, model?: string, grantPayload?: string): Record<string, unknown> {
  const payload = unpackTokenPayload(record.p, grantPayload);
  if (model) payload.kind = model;
  if (record.k) payload.clientId = record.k;
  return payload;
}
