/** OpenAPI paths of `/admin/apis` (api-admin-routes.ts, docs/admin-api.md#apis), merged into openapi.ts's document. */

const error = { type: 'object', properties: { error: { type: 'string' }, error_description: { type: 'string' } } };
const reasonField = { type: 'string', minLength: 1, maxLength: 500 };
const scopeToken = { type: 'string', pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' };
const fields = {
  name: { type: 'string', minLength: 1, maxLength: 200 },
  scopes: { type: 'array', minItems: 1, items: scopeToken, description: 'API scopes (RFC 6749 §3.3 scope tokens)' },
  claims: { type: 'array', items: { type: 'string', minLength: 1 }, default: [], description: 'User claims released to its introspectors (username, preferred_username, email, email_verified, name)' },
  introspectors: { type: 'array', items: { type: 'string', minLength: 1 }, default: [], description: 'client_ids (existing clients) that introspect its tokens' },
  accessTokenTTL: { type: 'integer', minimum: 1, default: 600, description: 'Seconds an access token for it lives' },
};
const api = {
  type: 'object',
  properties: {
    audience: { type: 'string', format: 'uri' }, ...fields,
    managed_by: { enum: ['config', 'admin'], description: 'config: from the config file, read-only here; admin: registered through this API' },
    created_at: { type: 'integer', description: 'ms (admin-managed only)' }, updated_at: { type: 'integer' }, revision: { type: 'integer' },
  },
};
const audience = {
  name: 'audience', in: 'path', required: true, schema: { type: 'string' },
  description: 'The API’s audience, percent-encoded as one path segment (encodeURIComponent: https%3A%2F%2Fapi.example%2Fv1)',
};
const response = (status: number, description: string, schema: object) => ({ [status]: { description, content: { 'application/json': { schema } } } });
const errors = {
  ...response(400, 'Bad body (the description names the field)', error),
  ...response(401, 'No or inactive access token', error),
  ...response(403, 'Missing scope (error="insufficient_scope")', error),
  ...response(404, 'No API with this audience', error),
  ...response(409, 'conflict: the API is managed by the config file (read-only here), the audience is registered already, or other writes keep changing it', error),
  ...response(503, 'Redis unreachable (temporarily_unavailable)', error),
};
const written = (key: string) => ({ type: 'object', properties: { [key]: api, audit_id: { type: 'string' } } });

export const apiPaths = {
  '/admin/apis': {
    get: {
      summary: 'Every API (resource server): the config file’s, then those registered at run time',
      security: [{ latch: ['admin:read'] }],
      responses: { ...response(200, 'OK', { type: 'object', properties: { apis: { type: 'array', items: api } } }), ...errors },
    },
    post: {
      summary: 'Register an API: tokens for it are issued and introspected on every instance within a second',
      security: [{ latch: ['admin:write'] }],
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { type: 'object', required: ['audience', 'name', 'scopes', 'reason'], additionalProperties: false, properties: { audience: { type: 'string', format: 'uri', maxLength: 2000, description: 'Absolute URI without fragment (RFC 8707 §2); not urn:latch:…, not a tokenExchange.jwtAudiences audience' }, ...fields, reason: reasonField } } } },
      },
      responses: { ...response(201, 'Registered; appended to the audit log', written('api')), ...errors },
    },
  },
  '/admin/apis/{audience}': {
    get: { summary: 'One API', security: [{ latch: ['admin:read'] }], parameters: [audience], responses: { ...response(200, 'OK', api), ...errors } },
    patch: {
      summary: 'Change an API: the fields given replace the stored ones (the audience never changes); applies from the next request on',
      security: [{ latch: ['admin:write'] }],
      parameters: [audience],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['reason'], minProperties: 2, additionalProperties: false, properties: { ...fields, reason: reasonField } } } } },
      responses: { ...response(200, 'Changed; appended to the audit log', written('api')), ...errors },
    },
    delete: {
      summary: 'Remove an API: its tokens answer active:false from then on (they are not revoked one by one)',
      security: [{ latch: ['admin:write'] }],
      parameters: [audience, { name: 'reason', in: 'query', schema: reasonField, description: 'When the request has no JSON body' }],
      requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: reasonField } } } } },
      responses: { ...response(200, 'Removed; appended to the audit log', written('deleted')), ...errors },
    },
  },
};
