import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import { AccessDenied } from '../errors/oauth-error.js';

const COOKIE = 'latch.csrf';

/**
 * What a form token is bound to: the browser session (oidc-provider's signed `_session` cookie)
 * once there is one, else the pending sign-in (`_interaction`, the login page of a browser that
 * has no session yet). Both are unknown to anyone but this browser.
 */
function binding(ctx: Context): string {
  const session = ctx.cookies.get('_session', { signed: true });
  if (session) return `session:${session}`;
  const interaction = ctx.cookies.get('_interaction', { signed: true });
  return interaction ? `interaction:${interaction}` : '';
}

function tokenFor(secret: string, bound: string): string {
  return createHash('sha256').update(`latch csrf v2\0${secret}\0${bound}`).digest('base64url');
}

/**
 * Double-submit CSRF token bound to the browser session: a random secret in a signed, HttpOnly,
 * SameSite=Lax cookie, and in the hidden form field a hash of that secret with the browser's
 * session id (or pending interaction id). A cross-site form can neither read the cookie nor forge
 * its signature; and a cookie planted from elsewhere (a sibling subdomain, a plain-http response)
 * together with its token is refused, because the token was made for another session.
 */
export function issueCsrf(ctx: Context): string {
  let secret = ctx.cookies.get(COOKIE, { signed: true });
  if (!secret) {
    secret = randomBytes(24).toString('base64url');
    ctx.cookies.set(COOKIE, secret, { signed: true, httpOnly: true, sameSite: 'lax', path: '/', overwrite: true, secure: ctx.secure });
  }
  return tokenFor(secret, binding(ctx));
}

export function checkCsrf(ctx: Context, submitted: string | null): void {
  const secret = ctx.cookies.get(COOKIE, { signed: true });
  const expected = secret ? Buffer.from(tokenFor(secret, binding(ctx))) : undefined;
  const given = Buffer.from(submitted ?? '');
  // Compared as bytes: a field of the right length in multibyte characters is simply wrong.
  const ok = !!expected && given.length === expected.length && timingSafeEqual(given, expected);
  if (!ok) throw new AccessDenied('the form expired or did not come from this site; go back and try again');
}
