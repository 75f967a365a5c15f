/** OpenAPI 3.1 description of the admin API, served at GET /admin/openapi.json. */

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
      latch: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: '/token', scopes: { 'admin:read': 'Read accounts, sessions and the audit log', 'admin:write': 'Revoke, disable and enable' } } } },
    },
  },
  paths: {
    '/admin/accounts/{username}': read('An account', [username], { type: 'object' }),
    '/admin/accounts/{username}/sessions': read('The account’s live device sessions', [username], { type: 'object', properties: { sessions: { type: 'array', items: session } } }),
    '/admin/accounts/{username}/revoke': write('Log the account out of everything, at once', [username]),
    '/admin/accounts/{username}/sessions/{id}/revoke': write('End one device session', [username, { name: 'id', in: 'path', required: true, schema: { type: 'string' } }]),
    '/admin/accounts/{username}/clients/{clientId}/revoke': write('Revoke one client for one account', [username, clientId]),
    '/admin/accounts/{username}/disable': write('Disable the account: all tokens inactive, logins refused', [username]),
    '/admin/accounts/{username}/enable': write('Enable the account again (old tokens stay dead)', [username]),
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
