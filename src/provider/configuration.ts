import type { Configuration, ClientMetadata, KoaContextWithOIDC, Account as OidcAccount } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { AccountStore } from '../accounts/account-store.js';
import type { LatchConfig } from '../config/load.js';
import type { ClientConfig } from '../config/schema.js';
import { ACCOUNT_CLIENT_ID } from '../interactions/account-routes.js';
import { errorPage, logoutPage, messagePage } from '../interactions/views.js';
import { parameterCaps } from './authorization-limits.js';
import type { ResourceServers } from './resource-servers.js';
import { introspectionAllowed, revocationAllowed } from './token-policies.js';

/** OIDC scopes Latch understands; API scopes come from the resource servers. */
const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'];

function clientMetadata(client: ClientConfig): ClientMetadata {
  const interactive = client.grant_types.includes('authorization_code');
  return {
    client_id: client.client_id,
    client_secret: client.client_secret,
    client_name: client.client_name ?? client.client_id,
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    grant_types: client.grant_types,
    response_types: interactive ? ['code'] : [],
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris: client.post_logout_redirect_uris,
    ...(client.scope ? { scope: client.scope } : {}),
    ...(client.jwks ? { jwks: client.jwks as ClientMetadata['jwks'] } : {}),
    ...(client.introspection_signed_response_alg
      ? { introspection_signed_response_alg: client.introspection_signed_response_alg }
      : {}),
  };
}

interface Dependencies {
  config: LatchConfig;
  accounts: AccountStore;
  resourceServers: ResourceServers;
  adapter: Configuration['adapter'];
}

/** The whole oidc-provider configuration, derived from Latch's config. */
export function providerConfiguration({ config, accounts, resourceServers, adapter }: Dependencies): Configuration {
  const { file, secrets } = config;

  async function findAccount(_ctx: KoaContextWithOIDC, sub: string): Promise<OidcAccount | undefined> {
    const account = await accounts.findBySub(sub);
    if (!account || account.disabled) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          preferred_username: account.username,
          name: account.name,
          email: account.email,
          email_verified: account.email ? true : undefined,
        };
      },
    };
  }

  return {
    adapter,
    clients: [
      ...file.clients.map(clientMetadata),
      {
        // First-party client of the devices page (src/interactions/account-routes.ts).
        client_id: ACCOUNT_CLIENT_ID,
        client_name: 'Latch account',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [`${config.issuer}/account/callback`],
        scope: 'openid',
      },
    ],
    jwks: secrets.jwks as Configuration['jwks'],
    cookies: {
      keys: secrets.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    findAccount,
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    scopes: [...OIDC_SCOPES, ...resourceServers.scopes()],
    responseTypes: ['code'],
    // Length caps of authorization request parameters (invalid_request, redirected to the client).
    extraParams: parameterCaps(),
    // S256 for every client, confidential or public (RFC 9700 §2.1.1).
    pkce: { required: () => true },
    rotateRefreshToken: true,
    routes: { introspection: '/introspect', revocation: '/revoke' },
    clientDefaults: { id_token_signed_response_alg: 'RS256' },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => introspectionAllowed(resourceServers, client.clientId, token as { clientId?: string; aud?: string }) },
      jwtIntrospection: { enabled: true },
      revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => revocationAllowed(client, token) },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = logoutPage(ctx.host, form);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = messagePage('Signed out', 'You are signed out. You can close this window.');
        },
      },
      resourceIndicators: {
        enabled: true,
        // No `resource` parameter: the client's first API that knows a requested scope, else its first API.
        defaultResource: async (ctx, client, oneOf) => {
          if (oneOf) return oneOf;
          const requested = String(ctx.oidc.params?.scope ?? '').split(' ');
          return resourceServers.defaultFor(client.clientId, requested) ?? (undefined as unknown as string);
        },
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator, client) => {
          const rs = resourceServers.get(indicator);
          if (!rs || !resourceServers.allowedFor(client.clientId).includes(indicator)) {
            throw new errors.InvalidTarget(`client may not obtain tokens for ${indicator}`);
          }
          return {
            scope: rs.scopes.join(' '),
            audience: rs.audience,
            accessTokenTTL: rs.accessTokenTTL,
            accessTokenFormat: 'opaque',
          };
        },
      },
    },
    ttl: {
      AuthorizationCode: file.ttl.authorizationCode,
      RefreshToken: file.ttl.refreshToken,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? file.ttl.clientCredentials,
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
      IdToken: file.ttl.idToken,
      // A browser nobody has signed in on yet (any anonymous GET /auth or /session/end) gets short-lived
      // records: what an anonymous caller makes Latch store expires within minutes, not hours or days.
      Session: (_ctx, session) => (session.accountId ? file.ttl.session : Math.min(file.ttl.anonymous, file.ttl.session)),
      Grant: file.ttl.grant,
      Interaction: (_ctx, interaction) => (interaction.session?.accountId ? file.ttl.interaction : Math.min(file.ttl.anonymous, file.ttl.interaction)),
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage(out.error, out.error_description);
    },
  };
}
