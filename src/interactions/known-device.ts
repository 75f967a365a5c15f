import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { LoginThrottle } from '../accounts/login-throttle.js';

const DEVICE_COOKIE = 'latch.device';

/** The known-device cookie: `<browser id>.<tag>.<tag>…`, one tag per username signed in to. */
function deviceCookie(ctx: Context): { browserId: string | undefined; tags: string[] } {
  const [browserId, ...tags] = (ctx.cookies.get(DEVICE_COOKIE, { signed: true }) ?? '').split('.');
  return { browserId: browserId || undefined, tags: tags.filter(Boolean) };
}

/** Whether this browser signed in to `username` before (the login throttle spares it account locks). */
export function knownDevice(ctx: Context, throttle: LoginThrottle, username: string): boolean {
  const { browserId, tags } = deviceCookie(ctx);
  return !!browserId && tags.includes(throttle.deviceTag(username, browserId));
}

/** After a login that succeeded in full (password and travel check): this browser is known. */
export function rememberDevice(ctx: Context, throttle: LoginThrottle, username: string): void {
  const cookie = deviceCookie(ctx);
  const browserId = cookie.browserId ?? randomBytes(16).toString('base64url');
  const tag = throttle.deviceTag(username, browserId);
  const tags = cookie.tags.filter((t) => t !== tag);
  ctx.cookies.set(DEVICE_COOKIE, [browserId, tag, ...tags.slice(0, 9)].join('.'), {
    signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, maxAge: 365 * 24 * 3600 * 1000, overwrite: true,
  });
}
