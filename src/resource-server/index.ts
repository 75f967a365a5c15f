/**
 * latch/resource-server: protect an API with Latch's opaque access tokens (RFC 7662 introspection,
 * RFC 6750 responses). Framework-neutral core plus Koa and Express adapters. See docs/resource-server.md.
 * Imports nothing of Latch's server: it runs in other people's processes.
 */
export type { AuthInfo, IntrospectionClaims } from './auth-info.js';
export { extractBearerToken, type BearerRequest } from './bearer-token.js';
export { bearerResponse, type BearerResponse } from './challenge.js';
export {
  BearerError,
  InsufficientScope,
  IntrospectionUnavailable,
  InvalidRequest,
  InvalidToken,
  MissingToken,
  type BearerErrorCode,
  type BearerErrorReason,
} from './errors.js';
export { expressResourceServer, type ExpressResourceServer } from './express.js';
export type { FrameworkAdapter } from './framework-adapter.js';
export { claimCheck, requireAnyScope, requireRole, requireScopes, type Guard } from './guards.js';
export { IntrospectionCache } from './introspection-cache.js';
export { koaResourceServer, type KoaResourceServer } from './koa.js';
export type { Logger } from './logger.js';
export type { CacheOptions, ClientAuthOptions, ClientSecretBasic, PrivateKeyJwt, RedisEventsOptions, ResourceServerOptions, RevocationEventsOptions, SsfEventsOptions } from './options.js';
export type { PushAnswer } from './ssf-source.js';
export { parseEvent, type RevocationEvent } from './revocation-event.js';
export { createResourceServer, ResourceServer, tokenHash } from './resource-server.js';
