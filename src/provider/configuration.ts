import type { Configuration, ClientMetadata, KoaContextWithOIDC, Account as OidcAccount, SigningAlgorithm } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { AccountStore } from '../accounts/account-store.js';
import type { LatchConfig } from '../config/load.js';
import type { ClientConfig } from '../config/schema.js';
import { ACCOUNT_CLIENT_ID } from '../interactions/account-routes.js';
import { errorPage, logoutPage, messagePage } from '../interactions/views.js';
import { clientCredentialsScopes, refuseUngrantableScopes } from './client-credentials-scope.js';
import { assertionProblem, ASSERTION_ALGS, CLOCK_TOLERANCE_SECONDS } from './client-assertion.js';
import { parameterCaps } from './authorization-limits.js';
import { DPOP_ALGORITHMS, dpopFeature } from '../dpop/dpop-feature.js';
import type { ResourceServers } from './resource-servers.js';
import { ENDPOINT_PATHS } from './routes.js';
import { providerShape } from '../clients/client-rules.js';
import type { registrationConfiguration } from '../clients/registration.js';
import { extraTokenClaims, PASSWORD_ACR } from './token-claims.js';
import { revocationAllowed } from './token-policies.js';

/**
 * The client authentication methods Latch can register (the config schema's
 * `token_endpoint_auth_method`) and verify: at /token and /revoke through oidc-provider, at
 * /introspect in Latch's own handler, which accepts all but `none`. No `client_secret_jwt`: no
 * client has a secret to sign with.
 */
const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
const INTROSPECTION_AUTH_METHODS = CLIENT_AUTH_METHODS.filter((m) => m !== 'none');

/** OIDC scopes Latch understands; API scopes come from the resource servers. */
const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'];

/** A config client's oidc-provider metadata: the same shape a managed client's is stored in (src/clients/). */
function clientMetadata(client: ClientConfig): ClientMetadata {
  return providerShape(client) as ClientMetadata;
}


/** What the provider's hooks read of a Client instance's Latch metadata. */
interface LatchClient {
  clientId: string;
  resources?: string[];
  access_token_ttl?: number;
  refresh_token_ttl?: number;
}

function latch(client: unknown): LatchClient {
  return client as LatchClient;
}

/** A client's own access-token lifetime caps its API's (the shorter wins: neither side gets a longer token than it asked for). */
function accessTTL(apiTTL: number | undefined, client: unknown, fallback: number): number {
  const own = client ? latch(client).access_token_ttl : undefined;
  const api = apiTTL ?? fallback;
  return own === undefined ? api : Math.min(own, api);
}

interface Dependencies {
  config: LatchConfig;
  accounts: AccountStore;
  resourceServers: ResourceServers;
  adapter: Configuration['adapter'];
  /** The algorithms Latch signs RFC 9701 introspection responses with (the keys it has). */
  introspectionSigningAlgs: readonly string[];
  /** Dynamic registration and client management (src/clients/registration.ts), with the validator of Latch's client metadata. */
  registration: ReturnType<typeof registrationConfiguration>;
}

/** The whole oidc-provider configuration, derived from Latch's config. */
export function providerConfiguration({ config, accounts, resourceServers, adapter, introspectionSigningAlgs, registration }: Dependencies): Configuration {
  const { file, secrets } = config;
  // The table changes at run time (APIs registered through the admin API): read it per request.
  const knownScopes = () => new Set([...OIDC_SCOPES, ...resourceServers.scopes()]);

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
    // The scopes known when the Provider is built; provider-scopes.ts keeps oidc-provider's set in
    // step with APIs registered or removed at run time.
    scopes: [...OIDC_SCOPES, ...resourceServers.scopes()],
    responseTypes: ['code'],
    // Length caps of authorization request parameters (invalid_request, redirected to the client).
    extraParams: parameterCaps(),
    // S256 for every client, confidential or public (RFC 9700 §2.1.1).
    pkce: { required: () => true },
    rotateRefreshToken: true,
    // The sign-in facts a token carries (auth_time, acr, amr: RFC 9470), and an exchanged token's act.
    extraTokenClaims,
    acrValues: [PASSWORD_ACR],
    routes: { ...ENDPOINT_PATHS },
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    // Asymmetric algorithms only: no client secret is ever an HMAC key (managed clients' secrets are
    // not even known to Latch: only their keyed hashes, src/clients/).
    enabledJWA: {
      clientAuthSigningAlgValues: ASSERTION_ALGS as SigningAlgorithm[],
      dPoPSigningAlgValues: DPOP_ALGORITHMS,
      requestObjectSigningAlgValues: ASSERTION_ALGS as SigningAlgorithm[],
    },
    extraClientMetadata: registration.extraClientMetadata,
    clientAuthMethods: CLIENT_AUTH_METHODS,
    // Latch's assertion rules (audience = the issuer, bounded lifetime) at /token and /revoke too.
    assertJwtClientAuthClaimsAndHeader: async (_ctx, claims) => {
      const problem = assertionProblem(claims, config.issuer);
      if (problem) throw new errors.InvalidClientAuth(problem);
    },
    // The introspection endpoint is Latch's own (src/introspection/): oidc-provider's is disabled,
    // so Latch advertises it (RFC 8414 §2), and the methods /revoke accepts, which oidc-provider omits.
    discovery: {
      claim_types_supported: ['normal'],
      introspection_endpoint: `${config.issuer}${ENDPOINT_PATHS.introspection}`,
      introspection_endpoint_auth_methods_supported: INTROSPECTION_AUTH_METHODS,
      introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
      introspection_signing_alg_values_supported: [...introspectionSigningAlgs],
      revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
      revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    },
    clientDefaults: { id_token_signed_response_alg: 'RS256' },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 7591 and RFC 7592, off unless the config turns them on (docs/clients.md).
      ...registration.features,
      // RFC 9449: DPoP-bound tokens, nonces shared by every instance, proofs spent once (src/dpop/).
      dPoP: dpopFeature(secrets.dpopNonceSecret, file.dpop),
      // One introspection decision: Latch's (src/introspection/introspect.ts), for every caller.
      introspection: { enabled: false },
      jwtIntrospection: { enabled: false },
      // OIDC Back-Channel Logout 1.0: discovery's backchannel_logout_supported and
      // backchannel_logout_session_supported, the client metadata, sid in ID tokens. Sending is
      // Latch's: src/backchannel/ routes oidc-provider's own end_session sends into its queue.
      backchannelLogout: { enabled: true },
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
        // No `resource` parameter: the client's first API that knows a requested scope. None knows
        // one (a plain OIDC sign-in): no API audience, a token for userinfo only.
        defaultResource: async (ctx, client, oneOf) => {
          if (oneOf) return oneOf;
          const requested = String(ctx.oidc.params?.scope ?? '').split(' ');
          const api = resourceServers.defaultFor(latch(client), requested);
          const machine = clientCredentialsScopes(ctx);
          if (!api && machine) {
            // A machine token is for an API: scopes no API of the client knows are an error; asking
            // for nothing at all gets the client's first API (RFC 6749 §3.3 default).
            refuseUngrantableScopes(machine, client, knownScopes());
            return resourceServers.allowedFor(latch(client))[0] ?? (undefined as unknown as string);
          }
          return api ?? (undefined as unknown as string);
        },
        useGrantedResource: async () => true,
        // Read from the live table on every request: an API registered at run time gets tokens at
        // once, one removed none, and a changed TTL or scope list applies to the next token.
        getResourceServerInfo: async (ctx, indicator, client) => {
          const rs = resourceServers.get(indicator);
          if (!rs || !resourceServers.allowedFor(latch(client)).includes(indicator)) {
            throw new errors.InvalidTarget(`client may not obtain tokens for ${indicator}`);
          }
          const machine = clientCredentialsScopes(ctx);
          if (machine) refuseUngrantableScopes(machine, client, knownScopes(), rs);
          return {
            scope: rs.scopes.join(' '),
            audience: rs.audience,
            accessTokenTTL: accessTTL(rs.accessTokenTTL, client, 600),
            accessTokenFormat: 'opaque',
          };
        },
      },
    },
    ttl: {
      AuthorizationCode: file.ttl.authorizationCode,
      // A client's own lifetimes (access_token_ttl, refresh_token_ttl) are caps: shorter than the deployment's.
      RefreshToken: (_ctx, _token, client) => Math.min(latch(client).refresh_token_ttl ?? file.ttl.refreshToken, file.ttl.refreshToken),
      ClientCredentials: (_ctx, token, client) => token.resourceServer?.accessTokenTTL ?? accessTTL(undefined, client, file.ttl.clientCredentials),
      AccessToken: (_ctx, token, client) => token.resourceServer?.accessTokenTTL ?? accessTTL(undefined, client, 600),
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
