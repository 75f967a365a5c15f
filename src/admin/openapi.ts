/** OpenAPI 3.1 description of the admin API, served at GET /admin/openapi.json. */

import { apiPaths } from './api-openapi.js';

const reason = { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } } };
const revocationResult = {
  type: 'object',
  properties: {
    epoch: { type: 'integer', description: 'Revocation epoch (ms, Redis clock): everything born at or before it is dead' },
    grants: { type: 'integer' },
    sessions: { type: 'integer' },
    tokens: { type: 'integer', description: 'Tokens affected' },
    job: { type: 'string', description: 'Background cleanup job (GET /admin/jobs/{id})' },
    audit_id: { type: 'string' },
  },
};
const error = { type: 'object', properties: { error: { type: 'string' }, error_description: { type: 'string' } } };
const username = { name: 'username', in: 'path', required: true, schema: { type: 'string' } };
const clientId = { name: 'clientId', in: 'path', required: true, schema: { type: 'string' } };
const errors = {
  400: { description: 'Bad body (the description names the field)', content: { 'application/json': { schema: error } } },
  401: { description: 'No or inactive access token (WWW-Authenticate: Bearer)', content: { 'application/json': { schema: error } } },
  403: { description: 'Missing scope (error="insufficient_scope")', content: { 'application/json': { schema: error } } },
  404: { description: 'Unknown account, client, session or job', content: { 'application/json': { schema: error } } },
  429: {
    description: 'Rate limit spent for this address or admin client (temporarily_unavailable)',
    headers: { 'Retry-After': { description: 'seconds until the budget renews', schema: { type: 'integer' } } },
    content: { 'application/json': { schema: error } },
  },
  503: { description: 'Redis unreachable (temporarily_unavailable)', content: { 'application/json': { schema: error } } },
};
const write = (summary: string, params: object[], body: object = reason) => ({
  post: {
    summary,
    security: [{ latch: ['admin:write'] }],
    parameters: params,
    requestBody: { required: true, content: { 'application/json': { schema: body } } },
    responses: { 200: { description: 'Done; appended to the audit log', content: { 'application/json': { schema: revocationResult } } }, ...errors },
  },
});
const read = (summary: string, params: object[], schema: object) => ({
  get: {
    summary,
    security: [{ latch: ['admin:read'] }],
    parameters: params,
    responses: { 200: { description: 'OK', content: { 'application/json': { schema } } }, ...errors },
  },
});

const accountSchema = {
  type: 'object',
  properties: {
    sub: { type: 'string' }, username: { type: 'string' }, email: { type: 'string' }, name: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } }, disabled: { type: 'boolean' },
    has_password: { type: 'boolean' }, password_change_required: { type: 'boolean' },
    created_at: { type: 'integer' }, password_changed_at: { type: 'integer' },
  },
};
const reasonField = { type: 'string', minLength: 1, maxLength: 500 };
const link = {
  type: 'object',
  properties: {
    link: { type: 'string', description: 'The one-time link; absent when a mail sender delivered it' },
    expires_at: { type: 'integer' }, delivered: { type: 'boolean' }, audit_id: { type: 'string' },
  },
};
const jsonBody = (schema: object) => ({ required: true, content: { 'application/json': { schema } } });
const ok = (schema: object) => ({ 200: { description: 'Done; appended to the audit log', content: { 'application/json': { schema } } }, ...errors });
const accountWrite = (summary: string, body: object, answer: object) => ({
  summary, security: [{ latch: ['admin:write'] }], parameters: [username], requestBody: jsonBody(body), responses: ok(answer),
});

/** Accounts managed at run time (src/admin/account-admin-routes.ts, docs/accounts.md). */
const accountPaths = {
  '/admin/accounts': {
    get: {
      summary: 'List or search accounts (by username prefix or email), sorted, one page at a time',
      security: [{ latch: ['admin:read'] }],
      parameters: [
        { name: 'prefix', in: 'query', schema: { type: 'string', maxLength: 64 }, description: 'Username prefix (case-insensitive)' },
        { name: 'email', in: 'query', schema: { type: 'string' }, description: 'Email prefix or whole address (case-insensitive); not with prefix' },
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
        { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'next_cursor of the previous page' },
      ],
      responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'object', properties: { accounts: { type: 'array', items: accountSchema }, next_cursor: { type: 'string' } } } } } }, ...errors },
    },
    post: {
      summary: 'Create an account (with a password, or answered with a one-time set-up link)',
      security: [{ latch: ['admin:write'] }],
      requestBody: jsonBody({
        type: 'object', required: ['username', 'reason'], additionalProperties: false,
        properties: {
          username: { type: 'string', pattern: '^[a-zA-Z0-9._@-]{1,64}$' }, sub: { type: 'string', description: 'Default: random' }, email: { type: 'string', format: 'email' },
          name: { type: 'string' }, roles: { type: 'array', items: { type: 'string' } }, password: { type: 'string', description: 'Checked by the password policy' },
          password_change_required: { type: 'boolean', default: false }, reason: reasonField,
        },
      }),
      responses: { 201: { description: 'Created', content: { 'application/json': { schema: { type: 'object', properties: { account: accountSchema, setup_link: link, audit_id: { type: 'string' } } } } } }, 409: { description: 'Username taken, subject exists, or subject of a deleted account', content: { 'application/json': { schema: error } } }, ...errors },
    },
  },
  '/admin/accounts/import': {
    post: {
      summary: 'Import accounts from JSON lines, with existing scrypt or bcrypt hashes (at most 10,000 lines / 4 MiB per request)',
      security: [{ latch: ['admin:write'] }],
      parameters: [
        { name: 'reason', in: 'query', required: true, schema: reasonField },
        { name: 'existing', in: 'query', schema: { enum: ['skip', 'fail'], default: 'skip' }, description: 'What an existing username or subject makes of its line' },
        { name: 'dry_run', in: 'query', schema: { enum: ['true', 'false'], default: 'false' } },
        { name: 'first_line', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 }, description: 'File line number of the first line (batches)' },
      ],
      requestBody: { required: true, content: { 'application/x-ndjson': { schema: { type: 'string' } }, 'application/jsonl': { schema: { type: 'string' } } } },
      responses: ok({
        type: 'object',
        properties: {
          dry_run: { type: 'boolean' }, created: { type: 'integer' }, skipped: { type: 'integer' }, failed: { type: 'integer' }, valid: { type: 'integer' }, audit_id: { type: 'string' },
          results: { type: 'array', items: { type: 'object', properties: { line: { type: 'integer' }, username: { type: 'string' }, status: { enum: ['created', 'skipped', 'failed', 'valid'] }, error: { type: 'string' } } } },
        },
      }),
    },
  },
  '/admin/accounts/{username}/password': {
    put: accountWrite('Set the password (policy); revokes every session and token unless revoke_sessions is false', {
      type: 'object', required: ['password', 'reason'], additionalProperties: false,
      properties: { password: { type: 'string' }, password_change_required: { type: 'boolean', default: false }, revoke_sessions: { type: 'boolean', default: true }, reason: reasonField },
    }, revocationResult),
  },
  '/admin/accounts/{username}/require-password-change': {
    post: accountWrite('Ask for a new password at the next login (required: false stops asking)', {
      type: 'object', required: ['reason'], additionalProperties: false, properties: { required: { type: 'boolean', default: true }, reason: reasonField },
    }, { type: 'object', properties: { password_change_required: { type: 'boolean' }, audit_id: { type: 'string' } } }),
  },
  '/admin/accounts/{username}/reset-link': {
    post: accountWrite('A one-time reset link (replaces any older one); revoke_password also kills the current password and every session', {
      type: 'object', required: ['reason'], additionalProperties: false,
      properties: { revoke_password: { type: 'boolean', default: false }, ttl_seconds: { type: 'integer', minimum: 300, maximum: 604800 }, reason: reasonField },
    }, { ...link, properties: { ...link.properties, revoked: revocationResult } }),
  },
};

/** Clients managed at run time (src/admin/client-admin-routes.ts, docs/clients.md). */
const clientMetadata = {
  client_name: { type: 'string' },
  token_endpoint_auth_method: { enum: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'], default: 'client_secret_basic' },
  grant_types: { type: 'array', items: { enum: ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'] } },
  redirect_uris: { type: 'array', items: { type: 'string', format: 'uri' }, description: 'Exact URIs: no fragment, no wildcard' },
  post_logout_redirect_uris: { type: 'array', items: { type: 'string', format: 'uri' } },
  scope: { type: 'string', description: 'Space-separated; each an OpenID Connect scope or an API scope' },
  resources: { type: 'array', items: { type: 'string' }, description: 'Audiences of resource servers' },
  jwks: { type: 'object', description: 'Public keys (private_key_jwt)' },
  introspection_signed_response_alg: { enum: ['RS256', 'PS256', 'ES256', 'EdDSA'] },
  dpop_bound_access_tokens: { type: 'boolean' },
  token_exchange: { type: 'object', properties: { audiences: { type: 'array', items: { type: 'string' } }, scopes: { type: 'array', items: { type: 'string' } } } },
  backchannel_logout_uri: { type: 'string', format: 'uri' },
  backchannel_logout_session_required: { type: 'boolean' },
  access_token_ttl: { type: 'integer', minimum: 10, maximum: 86400, description: 'Caps its access tokens (the API’s shorter TTL wins)' },
  refresh_token_ttl: { type: 'integer', minimum: 60, description: 'Caps its refresh tokens' },
};
const clientSchema = {
  type: 'object',
  properties: {
    client_id: { type: 'string' }, managed_by: { enum: ['config', 'admin', 'registration'], description: 'config: read-only here' }, ...clientMetadata,
    created_at: { type: 'integer' }, updated_at: { type: 'integer' }, client_secret_issued_at: { type: 'integer' }, client_secret_expires_at: { type: 'integer', description: '0: never' },
    previous_secret_expires_at: { type: 'integer', description: 'When the secret before the last rotation stops working (seconds)' },
  },
};
const clientWritten = {
  type: 'object',
  properties: { client: clientSchema, client_secret: { type: 'string', description: 'Shown once: only its keyed hash is stored' }, changed: { type: 'array', items: { type: 'string' } }, audit_id: { type: 'string' } },
};
const conflict = { 409: { description: 'A config client (read-only here) or a taken client_id', content: { 'application/json': { schema: error } } } };
const clientWrite = (summary: string, body: object, answer: object, params: object[] = [clientId]) => ({
  summary, security: [{ latch: ['admin:write'] }], parameters: params, requestBody: jsonBody(body), responses: { ...ok(answer), ...conflict },
});
const clientPaths = {
  '/admin/clients': {
    ...read('Every client: the config’s (managed_by "config", read-only) and the managed ones', [], { type: 'object', properties: { clients: { type: 'array', items: clientSchema } } }),
    post: {
      summary: 'Create a managed client; a secret-based one gets a generated secret, shown once',
      security: [{ latch: ['admin:write'] }],
      requestBody: jsonBody({ type: 'object', required: ['reason', 'grant_types'], additionalProperties: false, properties: { client_id: { type: 'string', pattern: '^[A-Za-z0-9._~-]{1,128}$', description: 'Default: random' }, ...clientMetadata, reason: reasonField } }),
      responses: { 201: { description: 'Created', content: { 'application/json': { schema: clientWritten } } }, ...conflict, ...errors },
    },
  },
  '/admin/clients/{clientId}': {
    ...read('A client', [clientId], clientSchema),
    patch: clientWrite('Change fields of a managed client (null removes an optional one); the whole is checked again', {
      type: 'object', required: ['reason'], additionalProperties: false, properties: { ...clientMetadata, reason: reasonField },
    }, clientWritten),
  },
  '/admin/clients/{clientId}/rotate-secret': {
    post: clientWrite('A new secret (shown once); the old one keeps working for grace_seconds, then fails at /token, /revoke and /introspect', {
      type: 'object', required: ['reason'], additionalProperties: false, properties: { grace_seconds: { type: 'integer', minimum: 0, maximum: 2592000, default: 0 }, reason: reasonField },
    }, clientWritten),
  },
  '/admin/clients/{clientId}/delete': {
    post: clientWrite('Delete a managed client: everything it holds is revoked first (as revoke), then its record goes', { ...reason, additionalProperties: false }, {
      ...revocationResult, properties: { ...revocationResult.properties, deleted: { type: 'boolean' } },
    }),
  },
  '/admin/initial-access-tokens': {
    post: {
      summary: 'An initial access token for dynamic client registration (RFC 7591), shown once; only with registration.enabled',
      security: [{ latch: ['admin:write'] }],
      requestBody: jsonBody({
        type: 'object', required: ['reason'], additionalProperties: false,
        properties: {
          uses: { type: 'integer', minimum: 1, maximum: 1000, default: 1 }, ttl_seconds: { type: 'integer', minimum: 60, maximum: 2592000, default: 86400 },
          policy: {
            type: 'object', additionalProperties: false,
            properties: {
              grant_types: { type: 'array', items: { enum: ['authorization_code', 'refresh_token', 'client_credentials'] }, default: ['authorization_code', 'refresh_token'] },
              scope: { type: 'string', default: 'openid offline_access profile email' }, resources: { type: 'array', items: { type: 'string' }, default: [] },
              httpsOnly: { type: 'boolean', default: true },
            },
          },
          reason: reasonField,
        },
      }),
      responses: {
        201: { description: 'Issued', content: { 'application/json': { schema: { type: 'object', properties: { initial_access_token: { type: 'string' }, uses: { type: 'integer' }, expires_at: { type: 'integer' }, policy: { type: 'object' }, audit_id: { type: 'string' } } } } } },
        ...errors,
      },
    },
  },
};

const session = {
  type: 'object',
  properties: {
    id: { type: 'string' }, client_id: { type: 'string' }, client_name: { type: 'string' },
    created_at: { type: 'integer' }, last_used_at: { type: 'integer' },
    ip: { type: 'string' }, place: { type: 'string' }, user_agent: { type: 'string' },
  },
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Latch admin API',
    version: '1',
    description:
      'For security staff. Authenticate with an access token from the client_credentials grant for resource ' +
      '`urn:latch:admin`: scope admin:read to read, admin:write to revoke. Every write is audited.',
  },
  components: {
    securitySchemes: {
      latch: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: '/token', scopes: { 'admin:read': 'Read accounts, sessions, APIs and the audit log', 'admin:write': 'Revoke, disable and enable; manage accounts, passwords and APIs' } } } },
    },
  },
  paths: {
    '/admin/accounts/{username}': {
      ...read('An account', [username], accountSchema),
      patch: accountWrite('Update the profile (email, name; null removes one)', {
        type: 'object', required: ['reason'], additionalProperties: false,
        properties: { email: { type: ['string', 'null'], format: 'email' }, name: { type: ['string', 'null'] }, reason: reasonField },
      }, { type: 'object', properties: { account: accountSchema, previous: { type: 'object' }, audit_id: { type: 'string' } } }),
    },
    ...accountPaths,
    ...apiPaths,
    '/admin/accounts/{username}/sessions': read('The account’s live device sessions', [username], { type: 'object', properties: { sessions: { type: 'array', items: session } } }),
    '/admin/accounts/{username}/revoke': write('Log the account out of everything, at once', [username]),
    '/admin/accounts/{username}/sessions/{id}/revoke': write('End one device session', [username, { name: 'id', in: 'path', required: true, schema: { type: 'string' } }]),
    '/admin/accounts/{username}/clients/{clientId}/revoke': write('Revoke one client for one account', [username, clientId]),
    '/admin/accounts/{username}/disable': write('Disable the account: all tokens inactive, logins refused', [username]),
    '/admin/accounts/{username}/enable': write('Enable the account again (old tokens stay dead)', [username]),
    '/admin/accounts/{username}/delete': write('Delete the account: everything revoked, a tombstone stays (the subject is never re-created)', [username]),
    ...clientPaths,
    '/admin/clients/{clientId}/revoke': write('Revoke every token of a client (compromised client)', [clientId]),
    '/admin/tokens/revoke': write('Revoke one token by value (with its grant)', [], {
      type: 'object', required: ['token', 'reason'], additionalProperties: false,
      properties: { token: { type: 'string' }, reason: { type: 'string', minLength: 1, maxLength: 500 } },
    }),
    '/admin/audit': read('The audit log, oldest first', [
      { name: 'after', in: 'query', schema: { type: 'string' }, description: 'Cursor: entries after this id' },
      { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
    ], { type: 'object', properties: { entries: { type: 'array', items: { type: 'object' } } } }),
    '/admin/jobs/{id}': read('Progress of a cleanup job', [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], {
      type: 'object', properties: { total: { type: 'integer' }, done: { type: 'integer' }, state: { enum: ['running', 'done', 'failed'] } },
    }),
  },
} as const;
