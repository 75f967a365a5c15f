import { randomBytes } from 'node:crypto';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import Provider from 'oidc-provider';
import type { LatchFileConfig, RegistrationPolicy } from '../config/schema.js';
import { InvalidClientMetadata, InvalidRedirectUri } from '../errors/oauth-error.js';
import type { ResourceServers } from '../provider/resource-servers.js';
import type { ClientRegistry } from './client-registry.js';
import { checkLatchRules, inputOf, parseClient } from './client-rules.js';
import { generateSecret } from './client-secrets.js';
import { LATCH_CLIENT_METADATA } from './client-rules.js';
import type { InitialAccessTokens } from './initial-access-tokens.js';

/** The name of Latch's registration policy (oidc-provider runs the IAT's named policies; RATs inherit them). */
export const LATCH_POLICY = 'latch';

/** Where the policy that applies to this registration request is kept for the adapter (ClientAdapter.upsert stores it). */
const POLICY_STATE = 'latchRegistrationPolicy';

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** Metadata that would make Latch fetch a URL a stranger chose: not taken from a registration. */
const FETCHED = ['jwks_uri', 'sector_identifier_uri', 'request_uris'];

/** The registration policy of the request oidc-provider is handling now, if one was chosen. */
export function currentPolicy(): RegistrationPolicy | undefined {
  return (Provider.ctx as { state?: Record<string, unknown> } | undefined)?.state?.[POLICY_STATE] as RegistrationPolicy | undefined;
}

/**
 * Whether a registered client's metadata stays within `policy`; throws `invalid_client_metadata` or
 * `invalid_redirect_uri` naming the field. Sets what the client left out to the policy's (its
 * `scope`, its `resources`): a client without `scope` could otherwise ask for any scope.
 */
export function enforcePolicy(metadata: Record<string, unknown>, policy: RegistrationPolicy): void {
  for (const field of FETCHED) {
    if (metadata[field] !== undefined) throw new InvalidClientMetadata(`${field}: not accepted in a registration (register jwks by value)`);
  }
  if (metadata.token_exchange !== undefined) throw new InvalidClientMetadata('token_exchange: not accepted in a registration (ask the security team)');
  const grants = (metadata.grant_types as string[] | undefined) ?? [];
  grants.forEach((grant, i) => {
    if (!(policy.grant_types as string[]).includes(grant)) throw new InvalidClientMetadata(`grant_types[${i}]: "${grant}" is not allowed by the registration policy`);
  });
  metadata.scope ??= policy.scope;
  const allowedScopes = new Set(policy.scope.split(' ').filter(Boolean));
  const scope = String(metadata.scope).split(' ').filter(Boolean).find((s) => !allowedScopes.has(s));
  if (scope) throw new InvalidClientMetadata(`scope: "${scope}" is not allowed by the registration policy`);
  metadata.resources ??= [];
  (metadata.resources as unknown[]).forEach((aud, i) => {
    if (!policy.resources.includes(String(aud))) throw new InvalidClientMetadata(`resources[${i}]: "${String(aud)}" is not allowed by the registration policy`);
  });
  const native = metadata.application_type === 'native';
  for (const field of ['redirect_uris', 'post_logout_redirect_uris'] as const) {
    ((metadata[field] as string[] | undefined) ?? []).forEach((uri, i) => {
      const problem = redirectProblem(uri, policy, native);
      if (problem) throw new InvalidRedirectUri(`${field}[${i}]: ${problem}`);
    });
  }
}

/** RFC 6749 §3.1.2, RFC 8252 §7 and RFC 9700 §2.1: exact URIs, https, loopback http for native apps. */
function redirectProblem(uri: string, policy: RegistrationPolicy, native: boolean): string | undefined {
  if (uri.includes('*')) return 'must not include a wildcard (redirect URIs are compared exactly)';
  if (uri.includes('#')) return 'must not include a fragment (RFC 6749 §3.1.2)';
  if (!URL.canParse(uri)) return 'must be an absolute URI';
  if (!policy.httpsOnly) return undefined;
  const url = new URL(uri);
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') return LOOPBACK.test(url.hostname) ? undefined : 'must be https (http only for a loopback host, RFC 8252 §7.3)';
  // RFC 8252 §7.1: a private-use scheme (reverse domain name) for a native app.
  if (native && /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/i.test(url.protocol)) return undefined;
  return 'must be https (a native app may use a loopback http URI or a private-use scheme, RFC 8252 §7)';
}

export interface RegistrationDeps {
  file: LatchFileConfig;
  resourceServers: ResourceServers;
  introspectionSigningAlgs: readonly string[];
  production: boolean;
  registry: ClientRegistry;
  initialAccessTokens: InitialAccessTokens;
}

/**
 * oidc-provider's dynamic registration (RFC 7591) and client management (RFC 7592), with Latch's
 * rules: an initial access token issued by security staff (admin API), one-time or counted, whose
 * policy bounds what the client may register; open registration only where the config says
 * (`registration.open`), under `registration.openPolicy`. Client ids and secrets are Latch's
 * (256-bit secret, shown once in the registration response, stored as its keyed hash by the
 * Client adapter). Every registration and update is checked by the same rules as a client the
 * admin API writes (client-rules.ts), inside oidc-provider's own validation.
 */
export function registrationConfiguration(deps: RegistrationDeps): Pick<Configuration, 'extraClientMetadata'> & { features: Pick<NonNullable<Configuration['features']>, 'registration' | 'registrationManagement'> } {
  const { file } = deps;
  const enabled = file.registration.enabled;
  return {
    features: {
      registration: {
        enabled,
        // true: every registration needs an initial access token (oidc-provider looks it up by value).
        initialAccessToken: !file.registration.open,
        // Policies need adapter-backed initial access tokens: none in open mode (openPolicy applies, validator below).
        policies: file.registration.open ? undefined : {
          // Runs for a registration with an initial access token (and, inherited by its registration
          // access token, for the client's updates): spends one of the token's uses and picks its policy.
          [LATCH_POLICY]: async (ctx: KoaContextWithOIDC) => {
            if (ctx.oidc.route !== 'registration') return;
            const iat = ctx.oidc.entities.InitialAccessToken as { jti: string } | undefined;
            if (!iat) return;
            ctx.state[POLICY_STATE] = await deps.initialAccessTokens.spend(iat.jti);
          },
        },
        idFactory: () => randomBytes(16).toString('base64url'),
        secretFactory: () => generateSecret(),
        issueRegistrationAccessToken: true,
      },
      registrationManagement: { enabled, rotateRegistrationAccessToken: true },
    },
    extraClientMetadata: {
      properties: [...LATCH_CLIENT_METADATA],
      // Synchronous (oidc-provider's rule). Only registration requests are checked here: config
      // clients were checked at start-up, admin writes by the admin API, stored clients when stored.
      validator(ctx, key, _value, metadata) {
        const route = (ctx as KoaContextWithOIDC | undefined)?.oidc?.route;
        if (key !== 'resources' || (route !== 'registration' && route !== 'client_update')) return;
        const oidcCtx = ctx as KoaContextWithOIDC;
        const clientId = String(metadata.client_id);
        const policy = route === 'registration'
          ? ((oidcCtx.state[POLICY_STATE] as RegistrationPolicy | undefined) ?? file.registration.openPolicy)
          : ((deps.registry.peek(clientId)?.record?.registration_policy as RegistrationPolicy | undefined) ?? file.registration.openPolicy);
        oidcCtx.state[POLICY_STATE] = policy;
        enforcePolicy(metadata as Record<string, unknown>, policy);
        checkLatchRules(clientId, parseClient(inputOf(metadata as Record<string, unknown>)), deps);
      },
    },
  };
}
