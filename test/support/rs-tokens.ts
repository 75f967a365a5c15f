import * as oidc from 'openid-client';
import { clientFor, logIn, postForm } from './oauth.js';
import { ORDERS_API, RS_SECRETS } from './rs-config.js';
import { ADMIN_API, SECRETS } from './test-config.js';

/** Alice's tokens from `orders-web` (authorization code + PKCE through Latch's real pages). */
export async function aliceTokens(issuer: string, scope = 'openid offline_access orders:read orders:write') {
  const client = await clientFor(issuer, 'orders-web', RS_SECRETS.ordersWeb);
  const { tokens } = await logIn(issuer, client, { scope });
  return { access_token: tokens.access_token, refresh_token: tokens.refresh_token! };
}

/** A machine token (client credentials of `svc-orders`) for `resource`. */
export async function serviceToken(issuer: string, scope = 'orders:read', resource = ORDERS_API): Promise<string> {
  const client = await clientFor(issuer, 'svc-orders', RS_SECRETS.svcOrders);
  return (await oidc.clientCredentialsGrant(client, { scope, resource })).access_token;
}

/** RFC 7009 revocation by the client the token was issued to (`orders-web`). */
export async function revokeAsOrdersWeb(issuer: string, token: string): Promise<void> {
  const { status } = await postForm(`${issuer}/revoke`, { token }, ['orders-web', RS_SECRETS.ordersWeb]);
  if (status !== 200) throw new Error(`revocation answered ${status}`);
}

/** "An admin revokes the user": the admin API's account revocation (docs/admin-api.md). */
export const adminRevokeAccount = (issuer: string, username: string) => adminRevoke(issuer, `/admin/accounts/${encodeURIComponent(username)}/revoke`);

/** POSTs an admin API revocation (`path`) as `security-admin` (admin:write). */
export async function adminRevoke(issuer: string, path: string, reason = 'test: revoke'): Promise<Record<string, unknown>> {
  const admin = await clientFor(issuer, 'security-admin', SECRETS.admin);
  const { access_token } = await oidc.clientCredentialsGrant(admin, { scope: 'admin:write', resource: ADMIN_API });
  const response = await fetch(`${issuer}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason }),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200) throw new Error(`admin revocation answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}
