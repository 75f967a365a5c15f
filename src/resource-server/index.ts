/**
 * latch/resource-server: protect an API with Latch's opaque access tokens (RFC 7662 introspection,
 * RFC 6750 responses, RFC 9449 DPoP). Framework-neutral core plus Koa and Express adapters. See docs/resource-server.md.
 * Imports nothing of Latch's server: it runs in other people's processes.
 */
export type { AuthInfo, IntrospectionClaims } from './auth-info.js';
export { extractBearerToken, extractCredentials, type BearerRequest, type Credentials } from './bearer-token.js';
export { bearerResponse, type BearerResponse, type DpopChallenge } from './challenge.js';
export { DpopNonces } from './dpop-nonce.js';
export type { DpopOptions } from './dpop-options.js';
export { accessTokenHash, DEFAULT_DPOP_ALGORITHMS, normaliseHtu, verifyDpopProof, type ProofPolicy, type ProofTarget, type VerifiedProof } from './dpop-proof.js';
export { MemoryReplayStore, RedisReplayStore, replayKey, type ReplayStore } from './dpop-replay.js';
export {
  BearerError,
  InsufficientScope,
  InsufficientUserAuthentication,
  IntrospectionUnavailable,
  InvalidDpopProof,
  InvalidRequest,
  InvalidToken,
  MissingToken,
  ReplayStoreUnavailable,
  UseDpopNonce,
  type AuthScheme,
  type BearerErrorCode,
  type BearerErrorReason,
} from './errors.js';
export { expressResourceServer, type ExpressResourceServer } from './express.js';
export type { FrameworkAdapter } from './framework-adapter.js';
export { claimCheck, requireAnyScope, requireAuthentication, requireRole, requireScopes, type AuthenticationRequirements, type Guard } from './guards.js';
export { IntrospectionCache } from './introspection-cache.js';
export { koaResourceServer, type KoaResourceServer } from './koa.js';
export type { Logger } from './logger.js';
export type { CacheOptions, ClientAuthOptions, ClientSecretBasic, PrivateKeyJwt, RedisEventsOptions, ResourceServerOptions, RevocationEventsOptions, SsfEventsOptions } from './options.js';
export type { PushAnswer } from './ssf-source.js';
export { parseEvent, type RevocationEvent } from './revocation-event.js';
export { createResourceServer, ResourceServer, tokenHash, type Authenticated } from './resource-server.js';
