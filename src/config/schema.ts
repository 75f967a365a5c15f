import { z } from 'zod';

/**
 * The JSON config file: what this Latch serves (clients, resource servers, scopes, demo accounts).
 * Secrets that must differ per deployment (signing keys, cookie keys, token-hashing key) come from
 * the environment instead; see load.ts.
 */

const scopeName = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token (RFC 6749 §3.3)');
const seconds = z.number().int().positive();

export const resourceServerSchema = z.strictObject({
  /** The audience (RFC 8707 resource indicator) access tokens for this API carry. */
  audience: z.url({ message: 'must be an absolute URI (RFC 8707 §2)' }),
  name: z.string().min(1),
  /** API scopes this resource server understands. */
  scopes: z.array(scopeName).min(1),
  /** User claims this resource server may receive at introspection (besides `sub`). */
  claims: z.array(z.string().min(1)).default([]),
  /** Clients (by client_id) that act as this resource server and may introspect its tokens. */
  introspectors: z.array(z.string().min(1)).default([]),
  accessTokenTTL: seconds.default(600),
});

const redirectUri = z.url({ message: 'must be an absolute URI' });

/** RFC 8693 §2.1: the grant type of a token exchange request at /token. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** Live user claims Latch can release (to an API's introspectors, into an exchanged JWT). */
export const USER_CLAIMS = ['username', 'preferred_username', 'email', 'email_verified', 'name'] as const;

/** The most an exchanged JWT may live: it cannot be revoked, only outlived (docs/token-exchange.md). */
export const EXCHANGED_JWT_TTL_CAP = 300;

/**
 * An internal service that receives signed JWT access tokens (RFC 9068) by token exchange, and
 * verifies them locally against Latch's /jwks instead of introspecting.
 */
export const jwtAudienceSchema = z.strictObject({
  /** The JWTs' `aud`: names the internal service (a URI or any name). */
  audience: z.string().min(1),
  name: z.string().min(1),
  /** API scopes the service understands: a JWT for it carries no other. */
  scopes: z.array(scopeName).min(1),
  /** Live user claims copied into each JWT at exchange (besides `sub` and `roles`). */
  claims: z.array(z.enum(USER_CLAIMS)).default([]),
  /** Lifetime of each JWT: 60 s by default, never more than the cap. */
  ttlSeconds: z
    .number()
    .int()
    .positive()
    .max(EXCHANGED_JWT_TTL_CAP, `must be at most ${EXCHANGED_JWT_TTL_CAP} (an exchanged JWT cannot be revoked: keep it short)`)
    .default(60),
  /** JWS algorithm; LATCH_JWKS must hold a key for it. Default RS256 (else the first Latch has). */
  alg: z.enum(['RS256', 'PS256', 'ES256', 'EdDSA']).optional(),
});

/** OIDC Back-Channel Logout 1.0 §2.2: an absolute http(s) URI, a query allowed, no fragment. */
const backchannelLogoutUri = z
  .url({ message: 'must be an absolute URI' })
  .refine((uri) => !URL.canParse(uri) || /^https?:$/.test(new URL(uri).protocol), 'must be an http or https URI')
  .refine((uri) => !uri.includes('#'), 'must not include a fragment (OIDC Back-Channel Logout 1.0 §2.2)');

export const clientSchema = z.strictObject({
  client_id: z.string().min(1),
  client_secret: z.string().min(32, 'must be at least 32 characters').optional(),
  client_name: z.string().min(1).optional(),
  token_endpoint_auth_method: z
    .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'])
    .default('client_secret_basic'),
  grant_types: z.array(z.enum(["authorization_code", "refresh_token", "client_credentials", TOKEN_EXCHANGE_GRANT])),
  redirect_uris: z.array(redirectUri).default([]),
  post_logout_redirect_uris: z.array(redirectUri).default([]),
  /** Scopes this client may request (OIDC and API scopes). */
  scope: z.string().optional(),
  /** Audiences (resource server `audience` values) this client may obtain access tokens for. */
  resources: z.array(z.string()).default([]),
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
  introspection_signed_response_alg: z.enum(['RS256', 'PS256', 'ES256', 'EdDSA']).optional(),
  /** RFC 9449 §5.2: every token request of this client must carry a DPoP proof (its access tokens are all bound). */
  dpop_bound_access_tokens: z.boolean().optional(),
  /**
   * Token exchange (RFC 8693; needs the grant type): the audiences this client may exchange Latch
   * access tokens for (a `tokenExchange.jwtAudiences` entry: a signed JWT; a resource server: an
   * opaque token), and at most which of their scopes (default: any).
   */
  token_exchange: z.strictObject({ audiences: z.array(z.string().min(1)).min(1), scopes: z.array(scopeName).min(1).optional() }).optional(),
  /** Where Latch POSTs a logout token whenever a session or grant of this client ends (docs/backchannel-logout.md). */
  backchannel_logout_uri: backchannelLogoutUri.optional(),
  /** The client needs `sid` in its logout tokens (OIDC Back-Channel Logout 1.0 §2.2); Latch sends it whenever it knows it. */
  backchannel_logout_session_required: z.boolean().optional(),
  /** Seconds: caps the lifetime of this client's access tokens (its API's own TTL when shorter wins). */
  access_token_ttl: z.number().int().min(10).max(86_400).optional(),
  /** Seconds: caps the lifetime of this client's refresh tokens (ttl.refreshToken when shorter wins). */
  refresh_token_ttl: z.number().int().min(60).max(366 * 86_400).optional(),
});

export const accountSchema = z.strictObject({
  /** The stable subject identifier; defaults to the username. */
  sub: z.string().min(1).optional(),
  username: z.string().regex(/^[a-zA-Z0-9._@-]{1,64}$/, 'must be 1-64 of letters, digits, . _ @ -'),
  password: z.string().min(8, 'must be at least 8 characters'),
  email: z.email().optional(),
  name: z.string().optional(),
  roles: z.array(z.string()).default([]),
});

const degrees = (min: number, max: number) => z.number().min(min).max(max);

export const geoSchema = z.strictObject({
  /**
   * Location headers set by a trusted edge (e.g. Cloudflare's `cf-iplatitude`/`cf-iplongitude`).
   * Only configure this when every request passes through that edge: clients can send these too.
   */
  edgeHeaders: z
    .strictObject({
      latitude: z.string().min(1),
      longitude: z.string().min(1),
      city: z.string().min(1).optional(),
      country: z.string().min(1).optional(),
    })
    .optional(),
  /** Known networks and where they are (offices, VPN egress), checked before any database. */
  networks: z
    .array(
      z.strictObject({
        cidr: z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, 'must be a CIDR block like 203.0.113.0/24'),
        latitude: degrees(-90, 90),
        longitude: degrees(-180, 180),
        place: z.string().min(1),
      }),
    )
    .default([]),
  /** Use the optional `geoip-lite` package (an offline IP database) when it is installed. */
  geoipLite: z.boolean().default(true),
});

export const impossibleTravelSchema = z.strictObject({
  /** revoke: kill the account's tokens and sessions and refuse the login; deny: refuse the login; alert: event only. */
  action: z.enum(['revoke', 'deny', 'alert', 'off']).default('revoke'),
  maxSpeedKmh: z.number().positive().default(900),
  minDistanceKm: z.number().nonnegative().default(500),
});

export const dpopSchema = z.strictObject({
  /**
   * Which clients must put Latch's nonce in their DPoP proofs at /token (RFC 9449 §8): `public`
   * (default: clients without credentials, whose proofs nothing else vouches for) or `all`.
   */
  requireNonce: z.enum(['public', 'all']).default('public'),
});

export const loginThrottleSchema = z.strictObject({
  /** Failures from one address for one username before each attempt must wait (doubling). */
  perAddress: z.number().int().positive().default(5),
  /** Failures for one username from all addresses before unknown browsers are locked out. */
  perAccount: z.number().int().positive().default(20),
  /** How long failures count, and how long an account lock lasts (seconds). */
  windowSeconds: z.number().int().positive().default(900),
});

/**
 * The password policy (docs/accounts.md): NIST SP 800-63B §3.1.1.2 lengths, and how long a reset
 * link lives. The minimum cannot go below 8 (NIST's floor); the maximum bounds the work one hash costs.
 */
export const passwordsSchema = z
  .strictObject({
    minLength: z.number().int().min(8, 'must be at least 8 (NIST SP 800-63B)').max(64).default(8),
    maxLength: z.number().int().min(64, 'must be at least 64 (NIST SP 800-63B)').max(1024).default(256),
    /** Seconds a reset link generated by security staff stays valid (single use). */
    resetLinkTTL: z.number().int().min(300).max(7 * 24 * 3600).default(3600),
  })
  .default({ minLength: 8, maxLength: 256, resetLinkTTL: 3600 });

/**
 * Requests Latch sends to URLs registered with it (src/outbound/: back-channel logout, Shared
 * Signals push). docs/config.md#outbound.
 */
export const outboundSchema = z.strictObject({
  /**
   * Whether any registered URL may reach loopback, private, link-local and other special-use
   * addresses. Unset: true in development, false in production. URLs written in this config file
   * are the operator's own and may always.
   */
  allowPrivateNetworks: z.boolean().optional(),
  /** Bound on one request: connect, headers and body (ms). */
  timeoutMs: z.number().int().min(100).max(60_000).default(5000),
});

/**
 * Delivery of back-channel logout tokens (src/backchannel/): token lifetime, and the retry schedule
 * of a receiver that does not answer 2xx. docs/backchannel-logout.md#delivery.
 */
/**
 * What a dynamically registered client (RFC 7591) may ask for: an initial access token's policy, or
 * open registration's. Redirect URIs are always exact (no wildcard, no fragment); `httpsOnly`
 * allows plain http for a loopback host only (native apps, RFC 8252 §7.3).
 */
export const registrationPolicySchema = z.strictObject({
  grant_types: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials'])).min(1).default(['authorization_code', 'refresh_token']),
  /** The scopes a registered client may request (space-separated); default the OpenID Connect ones. */
  scope: z.string().default('openid offline_access profile email'),
  /** The APIs (resource server audiences) it may get tokens for; default none (sign-in only). */
  resources: z.array(z.string().min(1)).default([]),
  httpsOnly: z.boolean().default(true),
});
export type RegistrationPolicy = z.infer<typeof registrationPolicySchema>;

const REGISTRATION_POLICY_DEFAULTS: RegistrationPolicy = {
  grant_types: ['authorization_code', 'refresh_token'], scope: 'openid offline_access profile email', resources: [], httpsOnly: true,
};

/** Dynamic client registration (RFC 7591) and client management (RFC 7592): docs/clients.md. */
export const registrationSchema = z.strictObject({
  /** Serve `/reg` (off by default). */
  enabled: z.boolean().default(false),
  /** Let anyone register without an initial access token (off by default), under `openPolicy`. */
  open: z.boolean().default(false),
  openPolicy: registrationPolicySchema.default(REGISTRATION_POLICY_DEFAULTS),
});

export const backchannelLogoutSchema = z.strictObject({
  /** `exp` − `iat` of a logout token (s); OIDC Back-Channel Logout 1.0 §2.4 recommends at most two minutes. */
  tokenLifetimeSeconds: z.number().int().min(10).max(120).default(120),
  /** Attempts per logout token, the first included, before Latch gives up (audited). */
  maxAttempts: z.number().int().min(1).max(100).default(16),
  /** Wait before the second attempt (ms); each later wait doubles, up to `maxBackoffMs`. */
  initialBackoffMs: z.number().int().min(10).max(3_600_000).default(1000),
  maxBackoffMs: z.number().int().min(10).max(86_400_000).default(600_000),
  /** A delivery held by a process that stopped answering is taken over by another after this long (ms). */
  visibilityTimeoutMs: z.number().int().min(1000).max(3_600_000).default(60_000),
  /** How often an idle process looks for deliveries queued or due elsewhere (ms). */
  pollIntervalMs: z.number().int().min(10).max(60_000).default(1000),
  /** Deliveries one process sends at once. */
  concurrency: z.number().int().min(1).max(1000).default(16),
});

export const BACKCHANNEL_LOGOUT_DEFAULTS = {
  tokenLifetimeSeconds: 120,
  maxAttempts: 16,
  initialBackoffMs: 1000,
  maxBackoffMs: 600_000,
  visibilityTimeoutMs: 60_000,
  pollIntervalMs: 1000,
  concurrency: 16,
} as const;

/** Requests per window for one key; 0 turns that limit off. */
const perWindow = z.number().int().nonnegative();

/**
 * Default request budgets per `windowSeconds` (10 s) window; docs/config.md says why these numbers.
 * Introspection runs on every API call of every resource server, so its budget is sized for
 * fleets (10 000/s); token, revocation and login do real work per call (writes, scrypt); the
 * admin API is for people and scripts of the security team.
 */
export const RATE_LIMIT_DEFAULTS = {
  windowSeconds: 10,
  syncIntervalMs: 250,
  introspection: { perClient: 100_000, perAddress: 100_000 },
  token: { perClient: 3_000, perAddress: 3_000 },
  revocation: { perClient: 3_000, perAddress: 3_000 },
  login: { perAddress: 100 },
  authorization: { perAddress: 300 },
  endSession: { perAddress: 100 },
  registration: { perAddress: 30 },
  admin: { perClient: 600, perAddress: 600 },
} as const;

const endpointLimits = (defaults: { perClient: number; perAddress: number }) =>
  z.strictObject({ perClient: perWindow.default(defaults.perClient), perAddress: perWindow.default(defaults.perAddress) }).default(defaults);

export const rateLimitsSchema = z
  .strictObject({
    /** Length of the fixed windows the budgets below are counted in (seconds). */
    windowSeconds: z.number().int().min(1).max(3600).default(RATE_LIMIT_DEFAULTS.windowSeconds),
    /** How often each instance adds its counts to the shared ones in Redis; 0 keeps counts per instance. */
    syncIntervalMs: z.number().int().nonnegative().max(60_000).default(RATE_LIMIT_DEFAULTS.syncIntervalMs),
    introspection: endpointLimits(RATE_LIMIT_DEFAULTS.introspection),
    token: endpointLimits(RATE_LIMIT_DEFAULTS.token),
    revocation: endpointLimits(RATE_LIMIT_DEFAULTS.revocation),
    login: z.strictObject({ perAddress: perWindow.default(RATE_LIMIT_DEFAULTS.login.perAddress) }).default(RATE_LIMIT_DEFAULTS.login),
    /** GET/POST /auth: every anonymous one may store an Interaction. */
    authorization: z.strictObject({ perAddress: perWindow.default(RATE_LIMIT_DEFAULTS.authorization.perAddress) }).default(RATE_LIMIT_DEFAULTS.authorization),
    /** /session/end (RP-initiated logout): an anonymous one stores a Session. */
    endSession: z.strictObject({ perAddress: perWindow.default(RATE_LIMIT_DEFAULTS.endSession.perAddress) }).default(RATE_LIMIT_DEFAULTS.endSession),
    /** /reg and /reg/{id} (RFC 7591/7592): each registration stores a client. */
    registration: z.strictObject({ perAddress: perWindow.default(RATE_LIMIT_DEFAULTS.registration.perAddress) }).default(RATE_LIMIT_DEFAULTS.registration),
    admin: endpointLimits(RATE_LIMIT_DEFAULTS.admin),
  })
  .superRefine((limits, ctx) => {
    if (limits.syncIntervalMs >= limits.windowSeconds * 1000) {
      ctx.addIssue({ code: 'custom', path: ['syncIntervalMs'], message: 'must be shorter than the window (windowSeconds × 1000), or 0 to keep counts per instance' });
    }
  });

/** Shared Signals transmitter (docs/shared-signals.md): streams, their queues and delivery. */
export const SSF_DEFAULTS = {
  defaultSubjects: 'ALL',
  maxQueue: 10_000,
  maxStreamsPerReceiver: 100,
  minVerificationIntervalSeconds: 5,
  inactivityTimeoutSeconds: 86_400,
  pollWaitSeconds: 20,
  pollMaxEvents: 100,
  retryBaseMs: 1000,
  retryMaxMs: 300_000,
} as const;

export const ssfSchema = z.strictObject({
  /** Subjects of a new stream (SSF §7.1 `default_subjects`): ALL until removed, or NONE until added. */
  defaultSubjects: z.enum(['ALL', 'NONE']).default(SSF_DEFAULTS.defaultSubjects),
  /** Events one stream holds for its receiver; past it the stream is disabled, never silently trimmed. */
  maxQueue: z.number().int().min(1).max(1_000_000).default(SSF_DEFAULTS.maxQueue),
  maxStreamsPerReceiver: z.number().int().min(1).max(10_000).default(SSF_DEFAULTS.maxStreamsPerReceiver),
  /** `min_verification_interval` of every stream; 0 lets a receiver ask as often as it likes. */
  minVerificationIntervalSeconds: z.number().int().nonnegative().max(86_400).default(SSF_DEFAULTS.minVerificationIntervalSeconds),
  /** `inactivity_timeout`: a stream nobody managed (or polled) for this long is deleted; 0 keeps streams forever. */
  inactivityTimeoutSeconds: z.number().int().nonnegative().default(SSF_DEFAULTS.inactivityTimeoutSeconds),
  /** How long a poll with `returnImmediately: false` may wait for an event (RFC 8936 §2.1). */
  pollWaitSeconds: z.number().int().min(1).max(60).default(SSF_DEFAULTS.pollWaitSeconds),
  /** Most SETs one poll answer carries (a smaller `maxEvents` asks for fewer). */
  pollMaxEvents: z.number().int().min(1).max(1000).default(SSF_DEFAULTS.pollMaxEvents),
  /** A failed push is retried after retryBaseMs, doubling per failure up to retryMaxMs (never given up: the queue bound decides). */
  retryBaseMs: z.number().int().min(10).max(3_600_000).default(SSF_DEFAULTS.retryBaseMs),
  retryMaxMs: z.number().int().min(10).max(86_400_000).default(SSF_DEFAULTS.retryMaxMs),
}).superRefine((ssf, ctx) => {
  if (ssf.retryMaxMs < ssf.retryBaseMs) ctx.addIssue({ code: 'custom', path: ['retryMaxMs'], message: 'must be at least retryBaseMs' });
});

export const configSchema = z
  .strictObject({
    loginThrottle: loginThrottleSchema.default({ perAddress: 5, perAccount: 20, windowSeconds: 900 }),
    passwords: passwordsSchema,
    rateLimits: rateLimitsSchema.default(RATE_LIMIT_DEFAULTS),
    dpop: dpopSchema.default({ requireNonce: 'public' }),
    outbound: outboundSchema.default({ timeoutMs: 5000 }),
    ssf: ssfSchema.default(SSF_DEFAULTS),
    backchannelLogout: backchannelLogoutSchema.default(BACKCHANNEL_LOGOUT_DEFAULTS),
    registration: registrationSchema.default({ enabled: false, open: false, openPolicy: REGISTRATION_POLICY_DEFAULTS }),
    /** Descriptions of the scopes shown on the consent page. */
    scopes: z.record(scopeName, z.string()).default({}),
    /**
     * Role → the API scopes it allows. A scope named by any role is governed: a user keeps it only
     * while one of their current roles allows it. Scopes no role names are not restricted.
     */
    roles: z.record(z.string().regex(/^[a-z0-9:_-]{1,64}$/i, 'must be a role name'), z.array(scopeName)).default({}),
    geo: geoSchema.default({ networks: [], geoipLite: true }),
    impossibleTravel: impossibleTravelSchema.default({ action: 'revoke', maxSpeedKmh: 900, minDistanceKm: 500 }),
    resourceServers: z.array(resourceServerSchema).default([]),
    /** Token exchange (RFC 8693): the internal services that receive signed JWTs. */
    tokenExchange: z.strictObject({ jwtAudiences: z.array(jwtAudienceSchema).default([]) }).default({ jwtAudiences: [] }),
    clients: z.array(clientSchema).min(1),
    accounts: z.array(accountSchema).default([]),
    ttl: z
      .strictObject({
        authorizationCode: seconds.default(60),
        refreshToken: seconds.default(14 * 24 * 3600),
        clientCredentials: seconds.default(600),
        idToken: seconds.default(3600),
        session: seconds.default(14 * 24 * 3600),
        grant: seconds.default(14 * 24 * 3600),
        interaction: seconds.default(3600),
        /** Interactions and sessions of a browser nobody has signed in on yet (anonymous requests). */
        anonymous: seconds.default(600),
      })
      .default({
        authorizationCode: 60,
        refreshToken: 14 * 24 * 3600,
        clientCredentials: 600,
        idToken: 3600,
        session: 14 * 24 * 3600,
        grant: 14 * 24 * 3600,
        interaction: 3600,
        anonymous: 600,
      }),
  })
  .superRefine((config, ctx) => {
    const audiences = new Set(config.resourceServers.map((rs) => rs.audience));
    const apiScopes = new Set(config.resourceServers.flatMap((rs) => rs.scopes));
    const jwtAudiences = new Map(config.tokenExchange.jwtAudiences.map((a) => [a.audience, a]));
    config.tokenExchange.jwtAudiences.forEach((entry, i) => {
      const path = ['tokenExchange', 'jwtAudiences', i];
      if (audiences.has(entry.audience)) {
        ctx.addIssue({ code: 'custom', path: [...path, 'audience'], message: `"${entry.audience}" is a resource server's audience (it gets opaque tokens, not JWTs)` });
      }
      if (config.tokenExchange.jwtAudiences.findIndex((a) => a.audience === entry.audience) !== i) {
        ctx.addIssue({ code: 'custom', path: [...path, 'audience'], message: `duplicate audience "${entry.audience}"` });
      }
      // The scopes of a subject token are API scopes: a JWT can carry no other.
      entry.scopes.forEach((scope, j) => {
        if (!apiScopes.has(scope)) ctx.addIssue({ code: 'custom', path: [...path, 'scopes', j], message: `no resource server has scope "${scope}"` });
      });
    });
    const clientIds = new Set<string>();
    config.clients.forEach((client, i) => {
      if (client.client_id === 'latch-account') {
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'client_id'], message: '"latch-account" is reserved for the devices page' });
      }
      if (clientIds.has(client.client_id)) {
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'client_id'], message: `duplicate client_id "${client.client_id}"` });
      }
      clientIds.add(client.client_id);
      checkClient(client, { audiences, resourceServers: config.resourceServers, jwtAudiences, futureAudiences: true }, (path, message) =>
        ctx.addIssue({ code: 'custom', path: ['clients', i, ...path], message }),
      );
    });
    config.registration.openPolicy.resources.forEach((aud, j) => {
      if (!audiences.has(aud)) ctx.addIssue({ code: 'custom', path: ['registration', 'openPolicy', 'resources', j], message: `no resource server has audience "${aud}"` });
    });
    const knownScopes = new Set(['openid', 'offline_access', 'profile', 'email', ...apiScopes]);
    for (const scope of config.registration.openPolicy.scope.split(' ').filter(Boolean)) {
      if (!knownScopes.has(scope)) ctx.addIssue({ code: 'custom', path: ['registration', 'openPolicy', 'scope'], message: `no resource server has scope "${scope}"` });
    }
    if (config.registration.open && !config.registration.enabled) {
      ctx.addIssue({ code: 'custom', path: ['registration', 'open'], message: 'needs registration.enabled' });
    }
    if (config.backchannelLogout.visibilityTimeoutMs <= config.outbound.timeoutMs) {
      ctx.addIssue({ code: 'custom', path: ['backchannelLogout', 'visibilityTimeoutMs'], message: 'must be longer than outbound.timeoutMs (a delivery still running would be taken over)' });
    }
    if (config.backchannelLogout.maxBackoffMs < config.backchannelLogout.initialBackoffMs) {
      ctx.addIssue({ code: 'custom', path: ['backchannelLogout', 'maxBackoffMs'], message: 'must be at least initialBackoffMs' });
    }
    config.resourceServers.forEach((rs, i) => {
      rs.introspectors.forEach((id, j) => {
        if (!clientIds.has(id)) {
          ctx.addIssue({ code: 'custom', path: ['resourceServers', i, 'introspectors', j], message: `no client has client_id "${id}"` });
        }
      });
    });
    for (const [role, scopes] of Object.entries(config.roles)) {
      scopes.forEach((scope, j) => {
        if (!apiScopes.has(scope)) {
          ctx.addIssue({ code: 'custom', path: ['roles', role, j], message: `no resource server has scope "${scope}"` });
        }
      });
    }
    const usernames = new Set<string>();
    config.accounts.forEach((account, i) => {
      account.roles.forEach((role, j) => {
        if (!(role in config.roles)) {
          ctx.addIssue({ code: 'custom', path: ['accounts', i, 'roles', j], message: `no role "${role}" in roles` });
        }
      });
      if (usernames.has(account.username)) {
        ctx.addIssue({ code: 'custom', path: ['accounts', i, 'username'], message: `duplicate username "${account.username}"` });
      }
      usernames.add(account.username);
    });
  });

export type LatchFileConfig = z.infer<typeof configSchema>;
export type ResourceServerConfig = z.infer<typeof resourceServerSchema>;
export type ClientConfig = z.infer<typeof clientSchema>;
export type JwtAudienceConfig = z.infer<typeof jwtAudienceSchema>;
export type AccountConfig = z.infer<typeof accountSchema>;
export type GeoConfig = z.infer<typeof geoSchema>;
export type LoginThrottleConfig = z.infer<typeof loginThrottleSchema>;
export type PasswordPolicyConfig = z.infer<typeof passwordsSchema>;
export type RateLimitsConfig = z.infer<typeof rateLimitsSchema>;
export type ImpossibleTravelConfig = z.infer<typeof impossibleTravelSchema>;
export type DpopConfig = z.infer<typeof dpopSchema>;
export type OutboundConfig = z.infer<typeof outboundSchema>;
export type SsfConfig = z.infer<typeof ssfSchema>;
export type BackchannelLogoutConfig = z.infer<typeof backchannelLogoutSchema>;

/** What a client's rules need to know of the rest of the configuration. */
export interface ClientContext {
  audiences: ReadonlySet<string>;
  resourceServers: ReadonlyArray<{ audience: string; scopes: readonly string[] }>;
  jwtAudiences: ReadonlyMap<string, { scopes: readonly string[] }>;
  /**
   * The config file's clients may name an audience no configured API has, as long as it is a URI:
   * an API registered at run time may have it (tokens for it are refused until then). A client
   * written at run time names only APIs that exist now.
   */
  futureAudiences?: boolean;
}

/**
 * The rules of one client beyond its shape, the same for a config client and one managed at run
 * time (src/clients/): `issue(path, message)` is called for each broken one, the path inside the client.
 */
export function checkClient(client: ClientConfig, { audiences, resourceServers, jwtAudiences, futureAudiences = false }: ClientContext, issue: (path: Array<string | number>, message: string) => void): void {
  client.resources.forEach((aud, j) => {
    // An audience no configured API has may be one registered at run time (the admin API): in the
    // config file it must be a URI as every audience is; tokens for it are refused until it is
    // registered (warnings.ts says so at start-up).
    if (!audiences.has(aud) && !(futureAudiences && URL.canParse(aud))) {
      issue(['resources', j], futureAudiences ? `no resource server has audience "${aud}" (and it is not an absolute URI an API registered at run time could have)` : `no resource server has audience "${aud}"`);
    }
    if (jwtAudiences.has(aud)) issue(['resources', j], `"${aud}" is a tokenExchange.jwtAudiences audience (reached by token exchange only)`);
  });
  const confidential = client.token_endpoint_auth_method.startsWith('client_secret');
  if (confidential && !client.client_secret) {
    issue(['client_secret'], `required for ${client.token_endpoint_auth_method}`);
  }
  if (!confidential && client.client_secret !== undefined) {
    // A secret the client may not authenticate with is a secret that would still work somewhere.
    issue(['client_secret'], `must not be set for ${client.token_endpoint_auth_method} (only client_secret_basic and client_secret_post clients authenticate with a secret)`);
  }
  if (client.token_endpoint_auth_method === 'private_key_jwt' && !client.jwks) {
    issue(['jwks'], 'required for private_key_jwt');
  }
  if (client.grant_types.includes('authorization_code') && client.redirect_uris.length === 0) {
    issue(['redirect_uris'], 'required for authorization_code');
  }
  if (client.backchannel_logout_uri && !client.grant_types.includes('authorization_code')) {
    issue(['backchannel_logout_uri'], 'back-channel logout is for clients users sign in to (authorization_code)');
  }
  if (client.backchannel_logout_session_required !== undefined && !client.backchannel_logout_uri) {
    issue(['backchannel_logout_session_required'], 'needs backchannel_logout_uri');
  }
  if (client.grant_types.includes('client_credentials') && client.token_endpoint_auth_method === 'none') {
    issue(['grant_types'], 'client_credentials needs a confidential client');
  }
  const exchanges = client.grant_types.includes(TOKEN_EXCHANGE_GRANT);
  if (exchanges && client.token_endpoint_auth_method === 'none') {
    issue(['grant_types'], 'token exchange needs a confidential client');
  }
  if (exchanges && !client.token_exchange) {
    issue(['token_exchange'], `required for ${TOKEN_EXCHANGE_GRANT} (the audiences it may exchange tokens for)`);
  }
  if (client.token_exchange && !exchanges) {
    issue(['grant_types'], `must include ${TOKEN_EXCHANGE_GRANT} when token_exchange is set`);
  }
  const targetScopes = new Set<string>();
  client.token_exchange?.audiences.forEach((aud, j) => {
    const target = jwtAudiences.get(aud) ?? resourceServers.find((rs) => rs.audience === aud);
    if (!target) {
      issue(['token_exchange', 'audiences', j], `no resource server or tokenExchange.jwtAudiences entry has audience "${aud}"`);
    }
    target?.scopes.forEach((scope) => targetScopes.add(scope));
  });
  client.token_exchange?.scopes?.forEach((scope, j) => {
    if (!targetScopes.has(scope)) {
      issue(['token_exchange', 'scopes', j], `none of the client's token_exchange audiences has scope "${scope}"`);
    }
  });
    }
