/** The decoded reply of the FETCH script: one record with everything needed to judge it. */
export interface FetchedRecord {
  /** Index of the candidate key that matched (0-based). */
  index: number;
  payload: string;
  consumed: string;
  /** Birth (ms, Redis clock); for grant-bound tokens the birth of their grant. */
  born: number;
  grantPayload: string;
  grantBorn: string;
  account: {
    disabled: boolean;
    epoch: number;
    clientEpoch: number;
    /** The account's epoch for the client of the record's grant, when that client is another (token exchange). */
    grantClientEpoch: number;
    username: string;
    email: string;
    name: string;
    roles: string;
  };
  clientEpoch: number;
  /** The browser session a session-bound token expires with ('' when absent or not bound). */
  sessionPayload: string;
  sessionBorn: number;
  /** The client the record belongs to (stored beside the payload, not in it). */
  clientId: string;
  /** The client of the record's grant. */
  grantClientId: string;
  /** The revocation epoch of the grant's client, when that client is another than the record's (token exchange). */
  grantClientEpoch: number;
}

/** The separator of the FETCH script's one-string reply (RS, 0x1E; scripts.ts). */
export const FETCH_SEP = '\x1e';

type Reply = Array<string | number>;

/**
 * The FETCH reply: the script's one RS-separated string, or the same fields as an array (the
 * cluster form, RedisStore.fetch, reads them one command at a time); null when nothing was found.
 */
export function decodeFetch(reply: unknown): FetchedRecord | undefined {
  let r: Reply;
  if (typeof reply === 'string') r = reply.split(FETCH_SEP);
  else if (Array.isArray(reply)) r = reply as Reply;
  else return undefined;
  return {
    index: Number(r[0]) - 1,
    payload: r[1] as string,
    consumed: r[2] as string,
    born: Number(r[3]),
    grantPayload: r[4] as string,
    grantBorn: r[5] as string,
    account: {
      disabled: r[6] === '1',
      epoch: Number(r[7] || 0),
      clientEpoch: Number(r[8] || 0),
      grantClientEpoch: Number(r[18] || 0),
      username: r[10] as string,
      email: r[11] as string,
      name: r[12] as string,
      roles: r[13] as string,
    },
    clientEpoch: Number(r[9] || 0),
    sessionPayload: (r[14] as string | undefined) ?? '',
    sessionBorn: Number(r[15] || 0),
    clientId: (r[16] as string | undefined) ?? '',
    grantClientId: (r[17] as string | undefined) ?? '',
    grantClientEpoch: Number(r[19] || 0),
  };
}

/**
 * The kill switch, in one place: a record is dead when its account is disabled, or when it was
 * born (its lineage was born) at or before a revocation epoch of its account, of its
 * account+client, or of its whole client. A token held in another client's grant (token exchange,
 * RFC 8693) answers to both clients: its own and its grant's.
 */
export function isRevoked(record: FetchedRecord): boolean {
  const { born, account } = record;
  return (
    account.disabled ||
    born <= account.epoch ||
    born <= account.clientEpoch ||
    born <= record.clientEpoch ||
    born <= account.grantClientEpoch ||
    born <= record.grantClientEpoch ||
    // A session-bound token is as dead as its session (sessions carry only the account epoch).
    (record.sessionPayload !== '' && record.sessionBorn <= account.epoch)
  );
}
