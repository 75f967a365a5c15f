import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import { AccessDenied } from '../errors/oauth-error.js';

const COOKIE = 'latch.csrf';

/**
 * Double-submit CSRF token: a random value in a signed, HttpOnly, SameSite=Lax cookie, echoed in a
 * hidden form field. A cross-site form can neither read the cookie nor forge its signature.
 */
export function issueCsrf(ctx: Context): string {
  const existing = ctx.cookies.get(COOKIE, { signed: true });
  if (existing) return existing;
  const value = randomBytes(24).toString('base64url');
  ctx.cookies.set(COOKIE, value, { signed: true, httpOnly: true, sameSite: 'lax', path: '/', overwrite: true, secure: ctx.secure });
  return value;
}

export function checkCsrf(ctx: Context, submitted: string | null): void {
  const expected = ctx.cookies.get(COOKIE, { signed: true });
  const ok =
    !!expected &&
    !!submitted &&
    submitted.length === expected.length &&
    timingSafeEqual(Buffer.from(submitted), Buffer.from(expected));
  if (!ok) throw new AccessDenied('the form expired or did not come from this site; go back and try again');
}
