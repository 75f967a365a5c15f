/**
 * Why a request Latch sent to a registered URL failed, as a stable `code` callers can switch on
 * (like jose's `ERR_JWT_EXPIRED`). The message names the target's origin only: never the path or
 * query (they may carry a receiver's secret), the body or a header.
 */
export type OutboundErrorCode =
  /** Not an absolute http(s) URL, or one with credentials in it. */
  | 'ERR_OUTBOUND_INVALID_URL'
  /** The host is, or resolves to, a loopback, private, link-local or other special-use address. */
  | 'ERR_OUTBOUND_REFUSED_ADDRESS'
  /** The host name does not resolve. */
  | 'ERR_OUTBOUND_DNS'
  /** No answer (connect, headers or body) within the request's timeout. */
  | 'ERR_OUTBOUND_TIMEOUT'
  /** Connection refused or reset, TLS failure, malformed response. */
  | 'ERR_OUTBOUND_CONNECTION';

export class OutboundError extends Error {
  readonly code: OutboundErrorCode;

  constructor(code: OutboundErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OutboundError';
    this.code = code;
  }
}
