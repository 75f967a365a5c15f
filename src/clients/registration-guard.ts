import type { Context, Next } from 'koa';
import { routeName } from '../provider/routes.js';

/**
 * RFC 7592 read and update answers are oidc-provider's `client.metadata()`, which for a managed
 * client holds the stand-in of its secret (client-adapter.ts), not the secret: Latch keeps only
 * its keyed hash, so the secret is in the registration response once and in no later answer.
 */
export async function registrationGuard(ctx: Context, next: Next) {
  await next();
  if (routeName(ctx) !== 'client_registration' || !ctx.body || typeof ctx.body !== 'object') return;
  const body = ctx.body as Record<string, unknown>;
  delete body.client_secret;
  delete body.client_secret_expires_at;
}
