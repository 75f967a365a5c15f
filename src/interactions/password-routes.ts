import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { AccountStore } from '../accounts/account-store.js';
import type { LoginThrottle } from '../accounts/login-throttle.js';
import { PasswordRejected, type Credentials } from '../credentials/credentials.js';
import { readForm } from '../http/request-body.js';
import type { RateLimits } from '../rate-limit/rate-limits.js';
import { checkCsrf, issueCsrf } from './csrf.js';
import { renewSession, type SignedInSession } from './fresh-session.js';
import { html } from './html.js';
import { knownDevice } from './known-device.js';
import { changePasswordPage, resetPasswordPage } from './password-views.js';
import { messagePage } from './views.js';

export interface PasswordRoutesDependencies {
  provider: Provider;
  accounts: AccountStore;
  credentials: Credentials;
  throttle: LoginThrottle;
  rateLimits: RateLimits;
  /** Seconds a signed-in browser session lives (config ttl.session). */
  sessionTTL: number;
}

const RESET = /^\/account\/reset\/([A-Za-z0-9_-]{65})$/;

function wait(seconds: number): string {
  return seconds < 90 ? `${seconds} second${seconds === 1 ? '' : 's'}` : `${Math.ceil(seconds / 60)} minutes`;
}

/**
 * The user's own password pages, beside the devices list (server-rendered, CSRF bound to the browser
 * session, no JavaScript):
 *
 *   GET/POST /account/password   change it (current password required). Every other session and
 *                                token of the account is revoked; this browser gets a fresh session.
 *   GET /account/reset/<token>   a reset (or set-up) link from security staff: choose a password;
 *   POST /account/reset          every session and token of the account ends.
 *
 * POSTs spend the login form's per-address budget, and the current-password check counts in the
 * login throttle like a failed sign-in (a stolen session cookie is no password oracle).
 */
export function passwordRoutes({ provider, accounts, credentials, throttle, rateLimits, sessionTTL }: PasswordRoutesDependencies) {
  const { minLength, maxLength } = credentials.policy;

  async function currentSession(ctx: Context): Promise<SignedInSession | undefined> {
    const id = ctx.cookies.get('_session', { signed: true });
    if (!id) return undefined;
    const session = (await provider.Session.find(id)) as unknown as SignedInSession | undefined;
    return session?.accountId ? session : undefined;
  }

  function show(ctx: Context, status: number, body: string) {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = body;
  }

  /** The login form's per-address budget; a refusal is shown as a page. */
  function spent(ctx: Context): boolean {
    const refusal = rateLimits.admitAddress('login', ctx.ip);
    if (!refusal) return false;
    ctx.set(refusal.headers());
    show(ctx, 429, messagePage('Too many attempts', `Too many password attempts from your network. Try again in ${wait(refusal.retryAfterSeconds)}.`));
    return true;
  }

  async function showChange(ctx: Context) {
    const session = await currentSession(ctx);
    const account = session && (await accounts.findBySub(session.accountId!));
    // Not signed in: the devices page signs the browser in first.
    if (!account || account.disabled) return ctx.redirect('/account/devices');
    show(ctx, 200, changePasswordPage({ username: account.username, csrf: issueCsrf(ctx), minLength, maxLength }));
  }

  async function change(ctx: Context) {
    if (spent(ctx)) return;
    const form = await readForm(ctx);
    checkCsrf(ctx, form.get('csrf'));
    const session = await currentSession(ctx);
    const account = session && (await accounts.findBySub(session.accountId!));
    if (!session || !account || account.disabled) {
      ctx.status = 303;
      return ctx.redirect('/account/devices');
    }
    const again = (status: number, error: string) =>
      show(ctx, status, changePasswordPage({ username: account.username, csrf: issueCsrf(ctx), minLength, maxLength, error }));
    const verdict = await throttle.check(account.username, ctx.ip, knownDevice(ctx, throttle, account.username));
    if (!verdict.allowed) {
      ctx.set('retry-after', String(verdict.retryAfterSeconds));
      return again(429, `Too many wrong passwords. Try again in ${wait(verdict.retryAfterSeconds)}.`);
    }
    const current = form.get('current') ?? '';
    if (!(await accounts.verifyCurrentPassword(account.sub, current))) {
      await throttle.failed(account.username, ctx.ip);
      return again(401, 'Your current password is not right.');
    }
    await throttle.succeeded(account.username, ctx.ip);
    const password = form.get('password') ?? '';
    if (password !== (form.get('confirm') ?? '')) return again(400, 'The two new passwords are not the same.');
    try {
      await credentials.changePassword({ account, password, current, action: 'change-password', by: { actor: 'user', reason: 'changed on the account page' } });
    } catch (err) {
      if (err instanceof PasswordRejected) return again(400, `The new password ${err.message.replace(/^the password /, '')}.`);
      throw err;
    }
    // The revocation killed this browser's session with every other: it gets a new one.
    await renewSession(ctx, provider, session, sessionTTL);
    show(ctx, 200, messagePage('Password changed', html`Your password is changed. Every other device and app that was signed in to your account has been signed out; this browser is still signed in. <a href="/account/devices">Back to your devices</a>`));
  }

  async function showReset(ctx: Context, token: string) {
    const open = await credentials.openResetLink(token);
    if (!open) return show(ctx, 400, expiredLink());
    const { account } = open;
    show(ctx, 200, resetPasswordPage({ username: account.username, token, csrf: issueCsrf(ctx), minLength, maxLength, setup: !account.hasPassword }));
  }

  async function reset(ctx: Context) {
    if (spent(ctx)) return;
    const form = await readForm(ctx);
    checkCsrf(ctx, form.get('csrf'));
    const token = form.get('token') ?? '';
    const open = await credentials.openResetLink(token);
    if (!open) return show(ctx, 400, expiredLink());
    const password = form.get('password') ?? '';
    const setup = !open.account.hasPassword;
    const again = (error: string) =>
      show(ctx, 400, resetPasswordPage({ username: open.account.username, token, csrf: issueCsrf(ctx), minLength, maxLength, setup, error }));
    if (password !== (form.get('confirm') ?? '')) return again('The two passwords are not the same.');
    let result;
    try {
      result = await credentials.useResetLink(token, password);
    } catch (err) {
      if (err instanceof PasswordRejected) return again(`The password ${err.message.replace(/^the password /, '')}.`);
      throw err;
    }
    if (result === 'bad-ticket') return show(ctx, 400, expiredLink());
    show(ctx, 200, messagePage('Password set', html`Your password is set${setup ? '' : ', and every device and app that was signed in to your account has been signed out'}. <a href="/account/devices">Sign in</a> with it.`));
  }

  return async function passwordPages(ctx: Context, next: Next) {
    if (!ctx.path.startsWith('/account/')) return next();
    ctx.set('cache-control', 'no-store');
    if (ctx.path === '/account/password') {
      if (ctx.method === 'GET') return showChange(ctx);
      if (ctx.method === 'POST') return change(ctx);
    }
    if (ctx.path === '/account/reset' && ctx.method === 'POST') return reset(ctx);
    const link = RESET.exec(ctx.path);
    if (link && ctx.method === 'GET') return showReset(ctx, link[1]!);
    return next();
  };
}

function expiredLink(): string {
  return messagePage('Link not valid', 'This password link is not valid any more: it was used, it expired, or a newer one replaced it. Ask your administrator for a new link.');
}
