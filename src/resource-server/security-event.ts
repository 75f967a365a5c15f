import { errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { RevocationEvent } from './revocation-event.js';

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
const RISC = 'https://schemas.openid.net/secevent/risc/event-type/';
const SSF = 'https://schemas.openid.net/secevent/ssf/event-type/';
export const VERIFICATION = `${SSF}verification`;
export const STREAM_UPDATED = `${SSF}stream-updated`;

/** The event types the cache's stream asks for: every one that may end or change a cached answer. */
export const CACHE_EVENTS = [
  `${CAEP}session-revoked`,
  `${CAEP}token-claims-change`,
  `${CAEP}credential-change`,
  `${CAEP}risk-level-change`,
  `${RISC}account-disabled`,
  `${RISC}account-purged`,
];

/** What one verified SET means to the cache. */
export type SecurityEventMeaning =
  | { kind: 'revocation'; event: RevocationEvent | 'unknown' }
  | { kind: 'verification'; state: string | undefined; streamId: string | undefined }
  | { kind: 'stream-updated'; status: string; streamId: string | undefined }
  | { kind: 'ignore' };

/** RFC 8935 §2.3 error codes a push answer may carry. */
export type SetErrorCode = 'invalid_request' | 'invalid_key' | 'invalid_issuer' | 'invalid_audience';

export class SetError extends Error {
  readonly err: SetErrorCode;
  constructor(err: SetErrorCode, description: string) {
    super(description);
    this.err = err;
  }
}

export interface VerifiedSet {
  jti: string;
  meaning: SecurityEventMeaning;
}

type Identifier = { format?: unknown; iss?: unknown; sub?: unknown; id?: unknown };

/**
 * The revocation a subject stands for, in the cache's terms (revocation-event.ts `revokes`):
 * a user (`iss_sub` of this issuer) by `sub`, an application (`opaque`) by client id, both when a
 * complex subject names both; anything the cache cannot match (another format, another issuer)
 * drops everything.
 */
function revocationOf(subId: Identifier & Record<string, unknown>, issuer: string): RevocationEvent | 'unknown' {
  const userOf = (id: Identifier | undefined): string | undefined | null => {
    if (id === undefined) return undefined;
    return id.format === 'iss_sub' && id.iss === issuer && typeof id.sub === 'string' ? id.sub : null;
  };
  const base = { v: 1, type: 'revocation' as const };
  if (subId.format === 'iss_sub') {
    const sub = userOf(subId);
    return sub ? { ...base, scope: 'account', sub } : 'unknown';
  }
  if (subId.format !== 'complex') return 'unknown';
  const sub = userOf(subId.user as Identifier | undefined);
  const application = subId.application as Identifier | undefined;
  const clientId = application === undefined ? undefined : application.format === 'opaque' && typeof application.id === 'string' ? application.id : null;
  if (sub === null || clientId === null || (sub === undefined && clientId === undefined)) return 'unknown';
  if (sub !== undefined && clientId !== undefined) return { ...base, scope: 'account-client', sub, client_id: clientId };
  return sub !== undefined ? { ...base, scope: 'account', sub } : { ...base, scope: 'client', client_id: clientId! };
}

/** What a SET of a given type means; unknown types drop everything (a newer Latch: forward compatibility). */
function meaningOf(type: string, event: Record<string, unknown>, subId: Identifier & Record<string, unknown>, issuer: string): SecurityEventMeaning {
  const streamId = subId.format === 'opaque' && typeof subId.id === 'string' ? subId.id : undefined;
  if (type === VERIFICATION) return { kind: 'verification', state: typeof event.state === 'string' ? event.state : undefined, streamId };
  if (type === STREAM_UPDATED) return { kind: 'stream-updated', status: String(event.status), streamId };
  if (type === `${RISC}account-enabled`) return { kind: 'ignore' };
  return { kind: 'revocation', event: revocationOf(subId, issuer) };
}

/**
 * Verifies a SET as SSF §4.1 and RFC 8417 say a receiver must: the signature against Latch's JWKS,
 * `typ: secevent+jwt`, `iss` the issuer, `aud` this receiver, a `jti`, an `iat`, no `exp` and no
 * `sub`, exactly one event, a `sub_id`. A failure is a SetError with the RFC 8935 §2.3 code.
 */
export async function verifySecurityEvent(token: string, keys: JWTVerifyGetKey, issuer: string, audience: string): Promise<VerifiedSet> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, keys, { issuer, audience, typ: 'secevent+jwt', algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] }));
  } catch (err) {
    if (err instanceof errors.JWTClaimValidationFailed) {
      if (err.claim === 'iss') throw new SetError('invalid_issuer', 'the SET is not from this receiver\'s issuer');
      if (err.claim === 'aud') throw new SetError('invalid_audience', 'the SET is not for this receiver');
      throw new SetError('invalid_request', `the SET's ${err.claim} claim is not acceptable`);
    }
    if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWSSignatureVerificationFailed) throw new SetError('invalid_key', 'the SET\'s signature does not verify with the issuer\'s keys');
    throw new SetError('invalid_request', 'not a verifiable SET');
  }
  if (payload.exp !== undefined || payload.sub !== undefined) throw new SetError('invalid_request', 'a SET carries neither exp nor sub (SSF §4.1)');
  if (typeof payload.jti !== 'string' || payload.jti === '' || typeof payload.iat !== 'number') throw new SetError('invalid_request', 'a SET needs jti and iat (RFC 8417 §2.2)');
  const events = payload.events as Record<string, unknown> | undefined;
  const types = typeof events === 'object' && events !== null ? Object.keys(events) : [];
  if (types.length !== 1) throw new SetError('invalid_request', 'a SET carries exactly one event (SSF §4.2.1)');
  const subId = payload.sub_id as (Identifier & Record<string, unknown>) | undefined;
  if (typeof subId !== 'object' || subId === null || typeof subId.format !== 'string') throw new SetError('invalid_request', 'a SET needs a sub_id (SSF §3.1)');
  const event = events![types[0]!];
  return { jti: payload.jti, meaning: meaningOf(types[0]!, typeof event === 'object' && event !== null ? (event as Record<string, unknown>) : {}, subId, issuer) };
}
