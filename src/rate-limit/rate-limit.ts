import type { Context, Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { routeName, type RouteName } from '../provider/routes.js';
import type { RateLimits } from './rate-limits.js';
import type { AddressOnlyEndpoint, RateLimitedEndpoint, TooManyRequests } from './too-many-requests.js';

/**
 * oidc-provider's routes that are limited, by the route the gate resolved (src/http/canonical-route.ts),
 * never by spelling: a variant of a path is refused before it gets here. Introspection never reaches
 * Koa: its lean handler applies the same policy itself.
 */
const ROUTES = new Map<RouteName | undefined, Exclude<RateLimitedEndpoint, AddressOnlyEndpoint>>([
  ['token', 'token'],
  ['revocation', 'revocation'],
]);

/**
 * oidc-provider's browser routes, any method, per address: each anonymous request there may
 * store a record (an Interaction at /auth, a Session at /session/end).
 */
const BROWSER_ROUTES = new Map<RouteName | undefined, Exclude<AddressOnlyEndpoint, 'login'>>([
  ['authorization', 'authorization'],
  ['end_session', 'endSession'],
  ['end_session_confirm', 'endSession'],
  // Dynamic registration: each one stores a client (open registration has no other bound).
  ['registration', 'registration'],
  ['client_registration', 'registration'],
]);

/** Errors oidc-provider answers before or during client authentication: the client was not proven. */
const UNPROVEN = new Set(['invalid_client', 'invalid_request']);

/** The client id a Basic Authorization header claims (RFC 6749 §2.3.1), unverified. */
export function basicClientId(authorization: string | undefined): string | undefined {
  if (!authorization?.toLowerCase().startsWith('basic ')) return undefined;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

export function refuse(ctx: Context, refusal: TooManyRequests): void {
  ctx.status = refusal.status;
  ctx.set(refusal.headers());
  ctx.body = refusal.toJSON();
}

/**
 * Rate limits on oidc-provider's token and revocation routes (the lean introspection handler
 * applies the same policy itself, without Koa), per address on its browser routes (`/auth`,
 * `/session/end`) and on the admin API (whose routes count their authenticated client).
 *
 * Before the route: the caller's address is counted, and the client a Basic header names is
 * refused if its budget is already spent (checked, not counted: the header is not proven yet).
 * After: the client is counted when oidc-provider authenticated it. It records the client before
 * checking the secret, so a request answered `invalid_client`/`invalid_request` or 5xx does not
 * count. The body is left to oidc-provider (parsing it here would make it warn), so clients that
 * authenticate in the body (`client_secret_post`, `private_key_jwt`) are counted but refused only
 * per address; public clients (`none`) prove nothing and are not counted per client.
 */
export function rateLimit(limits: RateLimits) {
  return async function limitRate(ctx: Context, next: Next) {
    const route = routeName(ctx);
    if (route === 'admin') {
      // Per address here; per client in the admin routes, once its bearer token is verified.
      const refusal = limits.admitAddress('admin', ctx.ip);
      return refusal ? refuse(ctx, refusal) : next();
    }
    const browser = BROWSER_ROUTES.get(route);
    if (browser) {
      const refusal = limits.admitAddress(browser, ctx.ip);
      if (!refusal) return next();
      // A browser is shown a page, an API client gets JSON: the error handler picks by Accept.
      ctx.set(refusal.headers());
      throw refusal;
    }
    const endpoint = ctx.method === 'POST' ? ROUTES.get(route) : undefined;
    if (!endpoint) return next();
    const refusal = limits.admitAddress(endpoint, ctx.ip) ?? limits.checkClient(endpoint, basicClientId(ctx.get('authorization') || undefined));
    if (refusal) return refuse(ctx, refusal);
    await next();
    const client = (ctx as unknown as KoaContextWithOIDC).oidc?.client;
    if (!client || client.clientAuthMethod === 'none' || ctx.status === 401 || ctx.status >= 500) return;
    const error = ctx.status >= 400 ? (ctx.body as { error?: unknown } | undefined)?.error : undefined;
    if (typeof error === 'string' && UNPROVEN.has(error)) return;
    limits.countClient(endpoint, client.clientId);
  };
}
