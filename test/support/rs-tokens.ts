import * as oidc from 'openid-client';
import { clientFor, logIn, postForm } from './oauth.js';
import { ORDERS_API, RS_SECRETS } from './rs-config.js';

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
