import { claimCheck, requireAnyScope, requireAuthentication, requireRole, requireScopes, type AuthenticationRequirements, type Guard } from './guards.js';
import type { ResourceServer } from './resource-server.js';

/** What each framework adapter offers, over that framework's middleware type `M`. */
export interface FrameworkAdapter<M> {
  /** Verifies the bearer token and stores the AuthInfo on the request, or answers 400/401/503 itself. */
  authenticate: M;
  /**
   * The Shared Signals push endpoint (RFC 8935) at the path of `cache.revocationEvents.ssf.endpointUrl`:
   * mount it before `authenticate` and before any body parser; other requests pass through.
   */
  securityEvents: M;
  requireScopes(...scopes: string[]): M;
  requireAnyScope(...scopes: string[]): M;
  requireRole(...roles: string[]): M;
  claimCheck(...args: Parameters<typeof claimCheck>): M;
  /** Step-up (RFC 9470): a recent enough sign-in and/or one of the accepted `acr` values, else 401. */
  requireAuthentication(requirements: AuthenticationRequirements): M;
  /** Any Guard as a middleware. */
  guard(guard: Guard): M;
  resourceServer: ResourceServer;
  close(): Promise<void>;
}

/** The guard shortcuts and lifecycle, from a framework's own `authenticate` and `guard` middleware. */
export function frameworkAdapter<M>(rs: ResourceServer, authenticate: M, guard: (check: Guard) => M, securityEvents: M): FrameworkAdapter<M> {
  return {
    authenticate,
    securityEvents,
    requireScopes: (...scopes) => guard(requireScopes(...scopes)),
    requireAnyScope: (...scopes) => guard(requireAnyScope(...scopes)),
    requireRole: (...roles) => guard(requireRole(...roles)),
    claimCheck: (...args) => guard(claimCheck(...args)),
    requireAuthentication: (requirements) => guard(requireAuthentication(requirements)),
    guard,
    resourceServer: rs,
    close: () => rs.close(),
  };
}
