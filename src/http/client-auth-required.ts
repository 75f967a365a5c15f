import type { Context, Next } from 'koa';

const ENDPOINTS = new Set(['/token', '/introspect', '/revoke']);
const NO_AUTH = 'no client authentication mechanism provided';

/**
 * RFC 6749 §5.2: a request without any client authentication is `invalid_client` (401, with a
 * `WWW-Authenticate` challenge). oidc-provider reports it as a 400 `invalid_request`; this restores
 * the RFC answer on the endpoints that authenticate clients.
 */
export async function clientAuthRequired(ctx: Context, next: Next) {
  await next();
  if (!ENDPOINTS.has(ctx.path) || ctx.status !== 400) return;
  const body = ctx.body as { error?: string; error_description?: string } | undefined;
  if (body?.error === 'invalid_request' && body.error_description === NO_AUTH) {
    ctx.status = 401;
    ctx.set('www-authenticate', 'Basic realm="latch"');
    ctx.body = { error: 'invalid_client', error_description: 'client authentication is required' };
  }
}
