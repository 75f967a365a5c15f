import type { Route } from '../admin/route-table.js';
import type { ClientAdminDependencies } from '../admin/client-admin-routes.js';

/** Initial access tokens for dynamic client registration (RFC 7591 §3): issued by security staff. */
export class InitialAccessTokens {
  routes(_written: ClientAdminDependencies['written']): Route[] {
    return [];
  }
}
