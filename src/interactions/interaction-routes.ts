import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Account, AccountStore } from '../accounts/account-store.js';
import type { LoginThrottle } from '../accounts/login-throttle.js';
import type { AuditLog } from '../admin/audit-log.js';
import { PasswordRejected, type Credentials } from '../credentials/credentials.js';
import { describe, type TravelGuard } from '../anomaly/impossible-travel.js';
import type { LocationResolver } from '../anomaly/location.js';
import type { LatchFileConfig } from '../config/schema.js';
import { InvalidRequest } from '../errors/oauth-error.js';
import { readForm } from '../http/request-body.js';
import { PASSWORD_ACR, PASSWORD_AMR } from '../provider/token-claims.js';
import type { RateLimits } from '../rate-limit/rate-limits.js';
import type { Revocations } from '../revocation/revocations.js';
import { ACCOUNT_CLIENT_ID } from './account-routes.js';
import { checkCsrf, issueCsrf } from './csrf.js';
import { knownDevice, rememberDevice } from './known-device.js';
import { loginPasswordChangePage } from './password-views.js';
import { consentPage, loginPage, messagePage } from './views.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

const ROUTE = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/(login|password|confirm|abort))?$/;

/** The login, consent and cancel steps oidc-provider hands over to us (devInteractions is off). */
export interface InteractionDependencies {
  provider: Provider;
  throttle: LoginThrottle;
  /** Per-address budget of login form POSTs (before the per-username throttle). */
  rateLimits: RateLimits;
  accounts: AccountStore;
  /** Password changes (an account that must choose a new password does so before the login finishes). */
  credentials: Credentials;
  revocations: Revocations;
  audit: AuditLog;
  locations: LocationResolver;
  travel: TravelGuard;
  file: LatchFileConfig;
}

function minutes(hours: number): string {
  const m = Math.round(hours * 60);
  return m < 120 ? `${m} minute${m === 1 ? '' : 's'}` : `${Math.round(hours)} hours`;
}

function wait(seconds: number): string {
  return seconds < 90 ? `${seconds} second${seconds === 1 ? '' : 's'}` : `${Math.ceil(seconds / 60)} minutes`;
}

export function interactionRoutes({ provider, accounts, credentials, revocations, audit, locations, travel, throttle, rateLimits, file }: InteractionDependencies) {
  async function details(ctx: Context, uid: string): Promise<Details | undefined> {
    try {
      const found = await provider.interactionDetails(ctx.req, ctx.res);
      if (found.uid === uid) return found;
    } catch (err) {
      if ((err as { name?: string }).name !== 'SessionNotFound') throw err;
    }
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = messagePage(
      'Sign-in expired',
      'This sign-in request has expired or was opened in another browser. Go back to the application and start again.',
    );
    return undefined;
  }

  async function clientName(clientId: unknown): Promise<string> {
    const client = await provider.Client.find(String(clientId));
    return client?.clientName ?? String(clientId);
  }

  async function showLogin(ctx: Context, interaction: Details, status = 200, error?: string, username?: string) {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = loginPage({
      uid: interaction.uid,
      csrf: issueCsrf(ctx),
      clientName: await clientName(interaction.params.client_id),
      error,
      username,
    });
  }

  async function showPrompt(ctx: Context, interaction: Details) {
    if (interaction.prompt.name === 'login') return showLogin(ctx, interaction);
    // Latch's own devices page asks for nothing but the sign-in: consent is implied.
    if (interaction.params.client_id === ACCOUNT_CLIENT_ID) return grantConsent(ctx, interaction);
    const { details: missing } = interaction.prompt as { details: Record<string, unknown> };
    const scopes = new Set<string>((missing.missingOIDCScope as string[] | undefined) ?? []);
    const resourceScopes = (missing.missingResourceScopes as Record<string, string[]> | undefined) ?? {};
    Object.values(resourceScopes).forEach((list) => list.forEach((s) => scopes.add(s)));
    const account = await accounts.findBySub(String(interaction.session?.accountId));
    ctx.type = 'html';
    ctx.body = consentPage({
      uid: interaction.uid,
      csrf: issueCsrf(ctx),
      clientName: await clientName(interaction.params.client_id),
      username: account?.username ?? '',
      scopes: [...scopes].filter((s) => s !== 'openid').map((name) => ({ name, description: file.scopes[name] ?? '' })),
      resources: Object.keys(resourceScopes),
    });
  }

  async function login(ctx: Context, interaction: Details) {
    const form = await readForm(ctx);
    checkCsrf(ctx, form.get('csrf'));
    const username = (form.get('username') ?? '').slice(0, 256);
    const password = form.get('password') ?? '';
    if (username) {
      const verdict = await throttle.check(username, ctx.ip, knownDevice(ctx, throttle, username));
      if (!verdict.allowed) {
        ctx.set('retry-after', String(verdict.retryAfterSeconds));
        return showLogin(ctx, interaction, 429, `Too many failed sign-in attempts. Try again in ${wait(verdict.retryAfterSeconds)}.`, username);
      }
    }
    const account = username && password ? await accounts.authenticate(username, password) : undefined;
    if (!account) {
      if (username) await throttle.failed(username, ctx.ip);
      // One message for unknown user, wrong password and disabled account.
      return showLogin(ctx, interaction, 401, 'Invalid username or password.', username);
    }
    // A login refused for impossible travel is no success: it neither clears the failures of this
    // address nor makes this browser a known device (that would exempt it from account locks).
    const refusal = await checkTravel(ctx, account);
    if (refusal) return showLogin(ctx, interaction, 403, refusal, username);
    await throttle.succeeded(username, ctx.ip);
    rememberDevice(ctx, throttle, username);
    if (account.passwordChangeRequired) return askNewPassword(ctx, interaction, account);
    // The facts of this sign-in, carried into its tokens (auth_time is the session's login time).
    await finish(ctx, { login: { accountId: account.sub, acr: PASSWORD_ACR, amr: [...PASSWORD_AMR] } }, false);
  }

  /**
   * The account must choose a new password before this login finishes (an admin asked for it):
   * the password was right, so the next step is proved by a ticket bound to this interaction, not by
   * keeping the password anywhere. Only its change finishes the login.
   */
  async function askNewPassword(ctx: Context, interaction: Details, account: Account, status = 200, error?: string, ticket?: string) {
    const token = ticket ?? (await credentials.issueLoginChange(account, interaction.uid));
    if (!token) return showLogin(ctx, interaction, 401, 'Invalid username or password.');
    const { minLength, maxLength } = credentials.policy;
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = loginPasswordChangePage({
      uid: interaction.uid, ticket: token, csrf: issueCsrf(ctx), username: account.username,
      clientName: await clientName(interaction.params.client_id), minLength, maxLength, error,
    });
  }

  async function changeAtLogin(ctx: Context, interaction: Details) {
    const form = await readForm(ctx);
    checkCsrf(ctx, form.get('csrf'));
    const ticket = form.get('ticket') ?? '';
    const open = await credentials.openLoginChange(ticket, interaction.uid);
    const expired = 'That step took too long or was already done. Sign in again.';
    if (!open) return showLogin(ctx, interaction, 400, expired);
    const password = form.get('password') ?? '';
    if (password !== (form.get('confirm') ?? '')) return askNewPassword(ctx, interaction, open.account, 400, 'The two new passwords are not the same.', ticket);
    let changed;
    try {
      changed = await credentials.changePassword({
        account: open.account, password, action: 'change-password', by: { actor: 'user', reason: 'required at sign-in' }, ticket: { field: 'pwc', hash: open.hash },
      });
    } catch (err) {
      if (err instanceof PasswordRejected) return askNewPassword(ctx, interaction, open.account, 400, `The new password ${err.message.replace(/^the password /, '')}.`, ticket);
      throw err;
    }
    if (changed === 'bad-ticket') return showLogin(ctx, interaction, 400, expired);
    try {
      await finish(ctx, { login: { accountId: open.account.sub, acr: PASSWORD_ACR, amr: [...PASSWORD_AMR] } }, false);
    } catch (err) {
      // A browser already signed in to this account (a forced re-authentication): its sign-in
      // request died with the account's other sessions. The password is changed; sign in again.
      if ((err as { name?: string }).name !== 'SessionNotFound') throw err;
      ctx.status = 200;
      ctx.type = 'html';
      ctx.body = messagePage('Password changed', 'Your password is changed and every other session was signed out. Go back to the application and sign in again with your new password.');
    }
  }

  /**
   * Impossible travel (after the password was right, so it cannot be probed): compares this
   * login's place with the previous one; returns a plain-words refusal when the login is refused.
   */
  async function checkTravel(ctx: Context, account: Account): Promise<string | undefined> {
    const here = await locations.resolve({ ip: ctx.ip, header: (name) => ctx.get(name) || undefined });
    const verdict = await travel.check(account.sub, here);
    if (verdict.action === 'allow') return undefined;
    const { from, to, distanceKm, hours, speedKmh } = verdict.travel;
    const summary = `${describe(from)} → ${describe(to)}: ${distanceKm} km in ${minutes(hours)} (${speedKmh} km/h)`;
    const revoked = verdict.action === 'revoke' ? await revocations.revokeAccount(account.sub, { actor: 'latch', reason: `impossible travel: ${summary}` }) : undefined;
    await revocations.events.publish({
      type: 'security', kind: 'impossible_travel', action: verdict.action, sub: account.sub, actor: 'latch',
      from: { place: from.place, ip: from.ip, latitude: from.latitude, longitude: from.longitude, at: from.at },
      to: { place: to.place, ip: to.ip, latitude: to.latitude, longitude: to.longitude, at: to.at },
      distance_km: distanceKm, hours, speed_kmh: speedKmh,
    });
    await audit.append({
      actor: 'latch', action: 'impossible-travel', target: `account:${account.username}`, reason: summary,
      count: revoked?.tokens ?? 0, detail: { action: verdict.action, ...verdict.travel },
    });
    if (verdict.action === 'alert') return undefined;
    const lead = `We stopped this sign-in: your account was used in ${describe(from)} ${minutes(hours)} ago, ${distanceKm} km from here (${describe(to)}), and nobody can travel that fast.`;
    return verdict.action === 'revoke'
      ? `${lead} To protect you, your account has been signed out on every device. If this was you, contact your administrator; if it was not, change your password.`
      : `${lead} If this was you, try again later or contact your administrator.`;
  }

  async function confirm(ctx: Context, interaction: Details) {
    const form = await readForm(ctx);
    checkCsrf(ctx, form.get('csrf'));
    if (interaction.prompt.name !== 'consent') throw new InvalidRequest('nothing to confirm at this step');
    await grantConsent(ctx, interaction);
  }

  async function grantConsent(ctx: Context, interaction: Details) {
    const { details: missing } = interaction.prompt as { details: Record<string, unknown> };
    const accountId = String(interaction.session?.accountId);
    const grant = interaction.grantId
      ? await provider.Grant.find(interaction.grantId)
      : new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
    if (!grant) throw new InvalidRequest('the grant of this request no longer exists');
    const oidcScope = missing.missingOIDCScope as string[] | undefined;
    if (oidcScope) grant.addOIDCScope(oidcScope.join(' '));
    const claims = missing.missingOIDCClaims as string[] | undefined;
    if (claims) grant.addOIDCClaims(claims);
    const resourceScopes = missing.missingResourceScopes as Record<string, string[]> | undefined;
    for (const [indicator, scopes] of Object.entries(resourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    // The device session the devices page and the admin API list: where and how it started.
    const now = Date.now();
    const here = await locations.resolve({ ip: ctx.ip, header: (name) => ctx.get(name) || undefined });
    await revocations.touchDevice(accountId, grantId, {
      ...(interaction.grantId ? {} : { created_at: now }),
      last_used_at: now,
      ip: ctx.ip,
      place: here.place,
      user_agent: ctx.get('user-agent').slice(0, 300) || undefined,
    });
    await finish(ctx, { consent: interaction.grantId ? {} : { grantId } }, true);
  }

  async function abort(ctx: Context) {
    const form = await readForm(ctx);
    checkCsrf(ctx, form.get('csrf'));
    await finish(ctx, { error: 'access_denied', error_description: 'The user cancelled the request.' }, false);
  }

  async function finish(ctx: Context, result: Parameters<Provider['interactionResult']>[2], merge: boolean) {
    const redirectTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  }

  return async function interactions(ctx: Context, next: Next) {
    const match = ROUTE.exec(ctx.path);
    if (!match) return next();
    const [, uid, step] = match as unknown as [string, string, string | undefined];
    ctx.set('cache-control', 'no-store');
    if (!step && ctx.method === 'GET') {
      const interaction = await details(ctx, uid);
      if (interaction) await showPrompt(ctx, interaction);
      return;
    }
    if (!step || ctx.method !== 'POST') {
      ctx.status = 405;
      ctx.set('allow', step ? 'POST' : 'GET');
      return;
    }
    if (step === 'login' || step === 'password') {
      // Before any lookup or password hash: this budget is what one address may make us do.
      const refusal = rateLimits.admitAddress('login', ctx.ip);
      if (refusal) {
        ctx.status = 429;
        ctx.set(refusal.headers());
        ctx.type = 'html';
        ctx.body = messagePage('Too many sign-in attempts', `Too many sign-in attempts from your network. Try again in ${wait(refusal.retryAfterSeconds)}.`);
        return;
      }
    }
    const interaction = await details(ctx, uid);
    if (!interaction) return;
    if (step === 'login') return login(ctx, interaction);
    if (step === 'password') return changeAtLogin(ctx, interaction);
    if (step === 'confirm') return confirm(ctx, interaction);
    return abort(ctx);
  };
}
