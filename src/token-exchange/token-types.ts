/** RFC 8693 §3: token type identifiers Latch exchanges and issues. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

export { TOKEN_EXCHANGE_GRANT } from '../config/schema.js';

/** The request parameters of a token exchange (RFC 8693 §2.1), besides grant_type and client authentication. */
export const EXCHANGE_PARAMETERS = [
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'audience',
  'resource',
  'scope',
] as const;

/** RFC 8693 §2.1: `resource` and `audience` may each be given more than once. */
export const REPEATABLE_PARAMETERS = ['audience', 'resource'] as const;
