import { createHash, randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { AccountStore } from '../accounts/account-store.js';
import { readForm } from '../http/request-body.js';
import type { Revocations } from '../revocation/revocations.js';
import { checkCsrf, issueCsrf } from './csrf.js';
import { devicesPage, messagePage } from './views.js';

/** Latch's own first-party client, used only to sign a user in to their devices page. */
export const ACCOUNT_CLIENT_ID = 'latch-account';
const STATE_COOKIE = 'latch.account';

interface SessionLike {
  accountId?: string;
  authorizations?: Record<string, { grantId?: string }>;
}

/**
 * "Your devices": the signed-in user's sessions, with End buttons and "Log out of all devices".
 * Server-rendered, CSRF-protected forms, no JavaScript. Signing in goes through the normal login
 * page via the first-party `latch-account` client (consent is implied for it).
 */
export function accountRoutes(provider: Provider, accounts: AccountStore, revocations: Revocations) {
  async function currentSession(ctx: Context): Promise<SessionLike | undefined> {
    const id = ctx.cookies.get('_session', { signed: true });
    if (!id) return undefined;
    const session = (await provider.Session.find(id)) as unknown as SessionLike | undefined;
    return session?.accountId ? session : undefined;
  }

  function signIn(ctx: Context) {
    const state = randomBytes(16).toString('base64url');
    const challenge = createHash('sha256').update(randomBytes(32)).digest('base64url');
    ctx.cookies.set(STATE_COOKIE, state, { signed: true, httpOnly: true, sameSite: 'lax', path: '/account', maxAge: 600_000, secure: ctx.secure });
    const url = new URL('/auth', provider.issuer);
    url.search = new URLSearchParams({
      client_id: ACCOUNT_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: `${provider.issuer}/account/callback`,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
    }).toString();
    ctx.redirect(url.pathname + url.search);
  }

  async function callback(ctx: Context) {
    const expected = ctx.cookies.get(STATE_COOKIE, { signed: true });
    ctx.cookies.set(STATE_COOKIE, null, { path: '/account' });
    const code = typeof ctx.query.code === 'string' ? ctx.query.code : undefined;
    if (!expected || ctx.query.state !== expected) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = messagePage('Sign-in failed', 'This sign-in link is not valid any more. Open your devices page again.');
      return;
    }
    // The browser session is what the devices page needs; the code itself is never used.
    if (code) await (await provider.AuthorizationCode.find(code))?.destroy();
    ctx.redirect('/account/devices');
  }

  async function showDevices(ctx: Context) {
    const session = await currentSession(ctx);
    if (!session) return signIn(ctx);
    const account = await accounts.findBySub(session.accountId!);
    if (!account) return signIn(ctx);
    const mine = new Set(Object.values(session.authorizations ?? {}).map((a) => a.grantId).filter(Boolean) as string[]);
    const mineIds = new Set([...mine].map((grantId) => revocations.deviceId(grantId)));
    const devices = await revocations.devices(account.sub);
    const rows = await Promise.all(
      devices.map(async (d) => ({
        id: d.id,
        clientName: (await provider.Client.find(d.client_id))?.clientName ?? d.client_id,
        createdAt: d.created_at,
        lastUsedAt: d.last_used_at,
        ip: d.ip,
        place: d.place,
        userAgent: d.user_agent,
        current: mineIds.has(d.id),
      })),
    );
    ctx.type = 'html';
    ctx.body = devicesPage({ username: account.username, csrf: issueCsrf(ctx), devices: rows });
  }

  async function endDevice(ctx: Context, id: string) {
    const form = await readForm(ctx);
    checkCsrf(ctx, form.get('csrf'));
    const session = await currentSession(ctx);
    if (!session) return signIn(ctx);
    await revocations.revokeDevice(session.accountId!, id, { actor: 'user', reason: 'ended from the devices page' });
    ctx.status = 303;
    ctx.redirect('/account/devices');
  }

  async function logoutEverywhere(ctx: Context) {
    const form = await readForm(ctx);
    checkCsrf(ctx, form.get('csrf'));
    const session = await currentSession(ctx);
    if (!session) return signIn(ctx);
    await revocations.revokeAccount(session.accountId!, { actor: 'user', reason: 'log out of all devices' });
    ctx.type = 'html';
    ctx.body = messagePage(
      'Signed out everywhere',
      'Every device and app signed in to your account has been signed out, this browser included. Sign in again where you need to.',
    );
  }

  return async function accountPages(ctx: Context, next: Next) {
    if (!ctx.path.startsWith('/account')) return next();
    ctx.set('cache-control', 'no-store');
    const end = /^\/account\/devices\/([A-Za-z0-9_-]{22})\/end$/.exec(ctx.path);
    if (ctx.method === 'GET' && (ctx.path === '/account' || ctx.path === '/account/devices')) return showDevices(ctx);
    if (ctx.method === 'GET' && ctx.path === '/account/callback') return callback(ctx);
    if (ctx.method === 'POST' && ctx.path === '/account/logout-all') return logoutEverywhere(ctx);
    if (ctx.method === 'POST' && end) return endDevice(ctx, end[1]!);
    return next();
  };
}
