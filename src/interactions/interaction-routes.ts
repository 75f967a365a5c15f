import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { AccountStore } from '../accounts/account-store.js';
import type { LatchFileConfig } from '../config/schema.js';
import { InvalidRequest } from '../errors/oauth-error.js';
import { readForm } from '../http/form-body.js';
import type { Revocations } from '../revocation/revocations.js';
import { ACCOUNT_CLIENT_ID } from './account-routes.js';
import { checkCsrf, issueCsrf } from './csrf.js';
import { consentPage, loginPage, messagePage } from './views.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

const ROUTE = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/(login|confirm|abort))?$/;

/** The login, consent and cancel steps oidc-provider hands over to us (devInteractions is off). */
export function interactionRoutes(provider: Provider, accounts: AccountStore, revocations: Revocations, file: LatchFileConfig) {
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
    const username = form.get('username') ?? '';
    const password = form.get('password') ?? '';
    const account = username && password ? await accounts.authenticate(username, password) : undefined;
    if (!account) {
      // One message for unknown user, wrong password and disabled account.
      return showLogin(ctx, interaction, 401, 'Invalid username or password.', username);
    }
    await finish(ctx, { login: { accountId: account.sub } }, false);
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
    await revocations.touchDevice(accountId, grantId, {
      ...(interaction.grantId ? {} : { created_at: now }),
      last_used_at: now,
      ip: ctx.ip,
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
    const interaction = await details(ctx, uid);
    if (!interaction) return;
    if (step === 'login') return login(ctx, interaction);
    if (step === 'confirm') return confirm(ctx, interaction);
    return abort(ctx);
  };
}
