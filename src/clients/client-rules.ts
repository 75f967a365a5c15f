import type Provider from 'oidc-provider';
import { z } from 'zod';
import { fieldPath } from '../config/config-error.js';
import { checkClient, clientSchema, type ClientConfig, type LatchFileConfig } from '../config/schema.js';
import { InvalidClientMetadata, InvalidRedirectUri } from '../errors/oauth-error.js';
import type { ResourceServers } from '../provider/resource-servers.js';

/**
 * Latch's own client metadata (oidc-provider's `extraClientMetadata`), carried by every Client
 * instance, config or managed, so each request reads the client as it is now: the APIs it may get
 * tokens for, its token-exchange policy, its token lifetimes, its RFC 9701 response alg.
 */
export const LATCH_CLIENT_METADATA = ['resources', 'token_exchange', 'access_token_ttl', 'refresh_token_ttl', 'introspection_signed_response_alg'] as const;

/** OIDC scopes every client may ask for; API scopes come from the resource servers. */
const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'];

/** A client id Latch accepts at run time: printable, no spaces or separators that a path or a Basic header would trip on. */
export const CLIENT_ID = z.string().regex(/^[A-Za-z0-9._~-]{1,128}$/, 'must be 1-128 of letters, digits, . _ ~ -');

/** The metadata of a managed client, as the admin API takes it: the config's client fields, without a secret (Latch generates it). */
export const managedClientSchema = clientSchema.omit({ client_id: true, client_secret: true });
export type ManagedClientInput = z.infer<typeof managedClientSchema>;

/** A client with this stand-in where a secret would be, for rules that only ask whether it has one. */
const SOME_SECRET = 'x'.repeat(43);

export interface RuleContext {
  provider: Provider;
  resourceServers: ResourceServers;
  file: LatchFileConfig;
  /** Algorithms Latch can sign RFC 9701 responses with. */
  introspectionSigningAlgs: readonly string[];
  production: boolean;
}

/**
 * The rules every managed client meets, whoever writes it (admin API, registration): the config
 * schema's own (shape, then `checkClient`: the same checks as a config client's), known scopes and
 * audiences, then oidc-provider's own validation of the metadata. A broken rule is a 400 naming the
 * field: `invalid_redirect_uri` for a redirect URI, else `invalid_client_metadata` (RFC 7591 §3.2.2).
 */
export async function checkManagedClient(clientId: string, input: ManagedClientInput, ctx: RuleContext): Promise<void> {
  const client = checkLatchRules(clientId, input, ctx);
  try {
    await (ctx.provider.Client as unknown as { validate(metadata: unknown): Promise<void> }).validate(providerShape(client));
  } catch (err) {
    const e = err as { error?: string; error_description?: string; message?: string };
    const description = e.error_description ?? e.message ?? 'invalid client metadata';
    if (e.error === 'invalid_redirect_uri') throw new InvalidRedirectUri(description);
    throw new InvalidClientMetadata(description);
  }
}

/** Latch's own rules of `checkManagedClient` (synchronous: registration.ts runs them inside oidc-provider's validation). */
export function checkLatchRules(clientId: string, input: ManagedClientInput, ctx: Omit<RuleContext, 'provider'>): ClientConfig {
  const client: ClientConfig = { ...input, client_id: clientId, ...(input.token_endpoint_auth_method.startsWith('client_secret') ? { client_secret: SOME_SECRET } : {}) };
  const audiences = new Set(ctx.resourceServers.all().map((rs) => rs.audience));
  const jwtAudiences = new Map(ctx.file.tokenExchange.jwtAudiences.map((a) => [a.audience, a]));
  checkClient(client, { audiences, resourceServers: ctx.resourceServers.all(), jwtAudiences }, (path, message) => {
    throw refusal(fieldPath(path), message);
  });
  const known = new Set([...OIDC_SCOPES, ...ctx.resourceServers.scopes()]);
  const unknown = (input.scope ?? '').split(' ').filter(Boolean).find((s) => !known.has(s));
  if (unknown) throw new InvalidClientMetadata(`scope: no resource server has scope "${unknown}" (and it is not an OpenID Connect scope)`);
  const alg = input.introspection_signed_response_alg;
  if (alg && !ctx.introspectionSigningAlgs.includes(alg)) throw new InvalidClientMetadata(`introspection_signed_response_alg: Latch has no signing key for ${alg}`);
  for (const [field, uris] of [['redirect_uris', input.redirect_uris], ['post_logout_redirect_uris', input.post_logout_redirect_uris]] as const) {
    uris.forEach((uri, i) => {
      if (uri.includes('#')) throw new InvalidRedirectUri(`${field}[${i}]: must not include a fragment (RFC 6749 §3.1.2)`);
      if (uri.includes('*')) throw new InvalidRedirectUri(`${field}[${i}]: must not include a wildcard (redirect URIs are compared exactly)`);
    });
  }
  if (ctx.production && input.backchannel_logout_uri) {
    const url = new URL(input.backchannel_logout_uri);
    if (url.protocol === 'http:' && !/^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i.test(url.hostname)) {
      throw new InvalidClientMetadata('backchannel_logout_uri: must be https (http only for a loopback host)');
    }
  }
  return client;
}

function refusal(field: string, message: string): InvalidClientMetadata | InvalidRedirectUri {
  const text = `${field}: ${message}`;
  return field.startsWith('redirect_uris') || field.startsWith('post_logout_redirect_uris') ? new InvalidRedirectUri(text) : new InvalidClientMetadata(text);
}

/** oidc-provider's metadata of a client (what it validates and what the Client model stores). */
export function providerShape(client: ClientConfig): Record<string, unknown> & { client_id: string } {
  const interactive = client.grant_types.includes('authorization_code');
  const shape: Record<string, unknown> & { client_id: string } = {
    client_id: client.client_id,
    client_name: client.client_name ?? client.client_id,
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    grant_types: client.grant_types,
    response_types: interactive ? ['code'] : [],
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris: client.post_logout_redirect_uris,
    resources: client.resources,
  };
  const optional = ['client_secret', 'scope', 'jwks', 'dpop_bound_access_tokens', 'backchannel_logout_uri', 'backchannel_logout_session_required',
    'token_exchange', 'access_token_ttl', 'refresh_token_ttl', 'introspection_signed_response_alg'] as const;
  for (const field of optional) if (client[field] !== undefined) shape[field] = client[field];
  return shape;
}

/** The admin-API input a stored client's metadata came from (for updates: merge, then check the whole again). */
export function inputOf(metadata: Record<string, unknown>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(managedClientSchema.shape)) if (metadata[key] !== undefined) input[key] = metadata[key];
  // oidc-provider's own default (false) of a field that only means something with a URI (registered clients carry it).
  if (input.backchannel_logout_uri === undefined) delete input.backchannel_logout_session_required;
  return input;
}

/** Parses with zod; the error names the field (`grant_types[0]: …`) with RFC 7591's error code. */
export function parseClient(value: unknown): ManagedClientInput {
  const result = managedClientSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = fieldPath(issue.path) || 'body';
  const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
  throw refusal(field, message);
}
