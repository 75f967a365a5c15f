/** Event type URIs Latch transmits: CAEP 1.0 §3, RISC 1.0 §2, SSF 1.0 §8.1.4 and §8.1.5. */
export const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
export const RISC = 'https://schemas.openid.net/secevent/risc/event-type/';
export const SSF = 'https://schemas.openid.net/secevent/ssf/event-type/';

export const SESSION_REVOKED = `${CAEP}session-revoked`;
export const TOKEN_CLAIMS_CHANGE = `${CAEP}token-claims-change`;
export const CREDENTIAL_CHANGE = `${CAEP}credential-change`;
export const RISK_LEVEL_CHANGE = `${CAEP}risk-level-change`;
export const ACCOUNT_DISABLED = `${RISC}account-disabled`;
export const ACCOUNT_ENABLED = `${RISC}account-enabled`;
export const ACCOUNT_PURGED = `${RISC}account-purged`;
export const VERIFICATION = `${SSF}verification`;
export const STREAM_UPDATED = `${SSF}stream-updated`;

/**
 * `events_supported` of every stream. Verification and stream-updated events are not listed: a
 * transmitter sends them on every stream, requested or not (SSF §8.1.4, §8.1.5).
 */
export const EVENTS_SUPPORTED = [
  SESSION_REVOKED,
  TOKEN_CLAIMS_CHANGE,
  CREDENTIAL_CHANGE,
  RISK_LEVEL_CHANGE,
  ACCOUNT_DISABLED,
  ACCOUNT_ENABLED,
  ACCOUNT_PURGED,
] as const;

/** RFC 8935 (push) and RFC 8936 (poll): the `delivery.method` URIs of SSF §6.1. */
export const PUSH = 'urn:ietf:rfc:8935';
export const POLL = 'urn:ietf:rfc:8936';

/** The audience and scopes of SSF management tokens (CAEP interoperability profile §2.8.2). */
export const SSF_AUDIENCE = 'urn:latch:ssf';
export const SCOPE_MANAGE = 'ssf.manage';
export const SCOPE_READ = 'ssf.read';
