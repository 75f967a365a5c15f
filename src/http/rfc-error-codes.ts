import type { Context, Next } from 'koa';
import { routeName, type RouteName } from '../provider/routes.js';

/** oidc-provider's client-authenticated routes (introspection is Latch's own handler, RFC codes already). */
const ENDPOINTS = new Set<RouteName | undefined>(['token', 'revocation']);

interface Remap {
  description: string;
  status: number;
  error: string;
  error_description: string;
  challenge?: boolean;
}

/**
 * oidc-provider answers two cases with a generic 400 `invalid_request` where RFC 6749 §5.2 names
 * a specific code; clients and resource servers switch on the code, so Latch gives the RFC's.
 */
const REMAPS: Remap[] = [
  {
    // §5.2 invalid_client: "no client authentication included" → 401 with a challenge.
    description: 'no client authentication mechanism provided',
    status: 401,
    error: 'invalid_client',
    error_description: 'client authentication is required',
    challenge: true,
  },
  {
    // §5.2 unauthorized_client: "not authorized to use this authorization grant type".
    description: 'requested grant type is not allowed for this client',
    status: 400,
    error: 'unauthorized_client',
    error_description: 'this client may not use the requested grant type',
  },
];

export async function rfcErrorCodes(ctx: Context, next: Next) {
  await next();
  if (ctx.status !== 400 || !ENDPOINTS.has(routeName(ctx))) return;
  const body = ctx.body as { error?: string; error_description?: string } | undefined;
  if (body?.error !== 'invalid_request') return;
  const remap = REMAPS.find((r) => r.description === body.error_description);
  if (!remap) return;
  ctx.status = remap.status;
  if (remap.challenge) ctx.set('www-authenticate', 'Basic realm="latch"');
  ctx.body = { error: remap.error, error_description: remap.error_description };
}
