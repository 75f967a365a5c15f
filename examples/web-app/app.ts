import Koa, { type Context } from 'koa';
import * as oidc from 'openid-client';
import { InvalidLogoutToken, LogoutTokenVerifier } from './backchannel-logout.js';
import { Sessions, type Session } from './sessions.js';
import { stepUpChallenge, type StepUp } from './step-up.js';
import { addressPage, errorPage, homePage, ordersPage, type OrdersView } from './views.js';

export interface WebAppOptions {
  /** Latch's issuer URL. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** This app's own origin, e.g. http://localhost:3001 (redirect URI = appUrl + /callback). */
  appUrl: string;
  /** The Orders API (examples/koa-api or express-api). */
  apiUrl: string;
  scope?: string;
  /**
   * DPoP (RFC 9449, default on): each sign-in gets its own key pair, kept server-side with the
   * session; its tokens are bound to it, and every API call carries a proof. `false`: bearer tokens.
   */
  dpop?: boolean;
}

const ROUTES = new Set(['GET /', 'GET /login', 'GET /callback', 'GET /orders', 'POST /orders', 'GET /address', 'POST /address', 'POST /refresh', 'POST /logout', 'POST /backchannel-logout']);
/** A logout token is a few hundred bytes; a form bigger than this is not one. */
const MAX_LOGOUT_BODY = 16 * 1024;
const LOOPBACK = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

/**
 * A third-party web app ("backend for frontend"): authorization code + PKCE with openid-client,
 * tokens kept server-side, API calls with the access token, refresh on expiry or on a 401,
 * step-up (RFC 9470) for the one sensitive action (the delivery address): when the API answers
 * insufficient_user_authentication, sign in again (prompt=login, its max_age / acr_values) and
 * retry, logout = revoke the refresh token (RFC 7009) + RP-initiated logout at Latch, and a
 * back-channel logout endpoint (POST /backchannel-logout) through which Latch ends the app's own
 * sessions whenever the user's session at Latch ends, whatever ended it. With DPoP
 * (the default), a stolen access token is useless without the session's key, which never leaves
 * this server (openid-client's DPoP handle makes the proofs and answers nonce requests).
 */
export async function createWebApp(options: WebAppOptions): Promise<Koa> {
  const appUrl = options.appUrl.replace(/\/$/, '');
  const issuerUrl = new URL(options.issuer);
  const insecure = issuerUrl.protocol === 'http:' && LOOPBACK.test(issuerUrl.origin);
  const config = await oidc.discovery(issuerUrl, options.clientId, undefined, oidc.ClientSecretBasic(options.clientSecret), {
    execute: insecure ? [oidc.allowInsecureRequests] : [],
  });
  const scope = options.scope ?? 'openid profile email offline_access orders:read orders:write';
  const sessions = new Sessions(appUrl.startsWith('https:'));
  const redirectUri = `${appUrl}/callback`;
  const dpop = options.dpop ?? true;
  const metadata = config.serverMetadata();
  const logoutTokens = new LogoutTokenVerifier({ issuer: metadata.issuer, jwksUri: metadata.jwks_uri!, clientId: options.clientId });

  /**
   * OIDC Back-Channel Logout 1.0 §2.5–2.8: Latch POSTs `logout_token` (form-encoded); a valid one
   * ends the sessions it names and is answered 200, anything else 400 invalid_request. A replayed
   * token (same jti: Latch delivers at least once) is answered 200 and ends nothing more.
   */
  async function backchannelLogout(ctx: Context) {
    const refuse = (description: string) => {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: description };
    };
    if (!ctx.is('application/x-www-form-urlencoded')) return refuse('send logout_token as application/x-www-form-urlencoded');
    let text = '';
    for await (const chunk of ctx.req) {
      text += String(chunk);
      if (text.length > MAX_LOGOUT_BODY) return refuse('request body too large');
    }
    const tokens = new URLSearchParams(text).getAll('logout_token');
    if (tokens.length !== 1) return refuse('exactly one logout_token is required');
    try {
      const request = await logoutTokens.verify(tokens[0]!);
      if (!request.replay) sessions.endWhere(request.sub, request.sid);
    } catch (err) {
      if (err instanceof InvalidLogoutToken) return refuse(err.message);
      throw err;
    }
    ctx.status = 200;
    ctx.body = '';
  }

  function keep(session: Session, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers) {
    session.tokens = {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token ?? session.tokens?.refreshToken,
      idToken: tokens.id_token ?? session.tokens?.idToken,
      expiresAt: Date.now() + (tokens.expiresIn() ?? 300) * 1000,
    };
  }

  /** RFC 6749 §6 with rotation; false when Latch refuses (revoked, expired): the user must log in again. */
  /** The session's DPoP handle (its key and the servers' nonces), when DPoP is on. */
  const dpopOf = (session: Session) => (session.dpop ? { DPoP: session.dpop } : undefined);

  async function refresh(session: Session): Promise<boolean> {
    const refreshToken = session.tokens?.refreshToken;
    if (!refreshToken) return false;
    try {
      keep(session, await oidc.refreshTokenGrant(config, refreshToken, undefined, dpopOf(session)));
      return true;
    } catch (err) {
      if (err instanceof oidc.ResponseBodyError || err instanceof oidc.WWWAuthenticateChallengeError) return false;
      throw err;
    }
  }

  async function callApi(session: Session, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    if (session.tokens && session.tokens.expiresAt - Date.now() < 30_000) await refresh(session);
    // openid-client sends `DPoP <token>` with a fresh proof (or `Bearer <token>`), and retries once
    // with the API's nonce when it asks for one; a refusal (401/403 with a challenge) is thrown.
    const send = () =>
      oidc
        .fetchProtectedResource(config, session.tokens!.accessToken, new URL(`${options.apiUrl}${path}`), init.method ?? 'GET', init.body ?? null, new Headers(init.headers), dpopOf(session))
        .catch((err: unknown) => {
          if (err instanceof oidc.WWWAuthenticateChallengeError) return err.response;
          throw err;
        });
    let response = await send();
    // A 401 invalid_token: the access token died (expired or revoked). One refresh, one retry.
    // (A step-up 401 is about the sign-in: a refreshed token keeps its auth_time, so no refresh.)
    if (response.status === 401 && !stepUpChallenge(response) && (await refresh(session))) response = await send();
    return response;
  }

  /** To Latch's sign-in: the first one (consent, for offline_access), or a step-up the API asked for. */
  async function startLogin(ctx: Context, session: Session, stepUp?: StepUp) {
    const login: NonNullable<Session['login']> = { verifier: oidc.randomPKCECodeVerifier(), state: oidc.randomState(), nonce: oidc.randomNonce() };
    if (stepUp?.maxAge !== undefined) login.maxAge = stepUp.maxAge;
    session.login = login;
    // A new key for every sign-in (RFC 9449 §2): its private half is not extractable.
    session.dpop = dpop ? oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256')) : undefined;
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(login.verifier),
      code_challenge_method: 'S256',
      state: login.state,
      nonce: login.nonce,
      ...(stepUp
        ? {
            // RFC 9470 §5: an active sign-in now, as recent and at the level the API asked for.
            prompt: 'login',
            ...(stepUp.maxAge !== undefined ? { max_age: String(stepUp.maxAge) } : {}),
            ...(stepUp.acrValues ? { acr_values: stepUp.acrValues } : {}),
          }
        : // OpenID Connect Core §11: offline_access (a refresh token) needs prompt=consent.
          { prompt: 'consent' }),
    });
    ctx.redirect(url.href);
  }

  /** PUT /address at the API; its answer, or 'step-up' with what the API asks of the sign-in. */
  async function changeAddress(session: Session, address: string): Promise<Response | { stepUp: StepUp }> {
    const response = await callApi(session, '/address', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address }) });
    const stepUp = stepUpChallenge(response);
    return stepUp ? { stepUp } : response;
  }

  /** The session is over (revoked at Latch): forget it and send the user to log in again. */
  function backToLogin(ctx: Context) {
    sessions.destroy(ctx);
    ctx.redirect('/login');
  }

  const app = new Koa();
  app.use(async function sameOriginPosts(ctx, next) {
    // SameSite=Lax cookies already stop cross-site POSTs; checking Origin is the second lock.
    const origin = ctx.get('origin');
    if (ctx.method === 'POST' && origin && origin !== appUrl) {
      ctx.status = 403;
      ctx.body = errorPage(403, 'cross-origin request refused');
      return;
    }
    await next();
  });

  app.use(async function routes(ctx) {
    ctx.set('cache-control', 'no-store');
    const route = `${ctx.method} ${ctx.path}`;
    if (!ROUTES.has(route)) {
      ctx.status = 404;
      ctx.body = errorPage(404, 'not found');
      return;
    }
    if (route === 'POST /backchannel-logout') return backchannelLogout(ctx);
    const found = sessions.find(ctx);

    if (route === 'GET /') {
      const notice = found?.notice;
      if (found) delete found.notice;
      ctx.body = homePage(found?.tokens ? found.user : undefined, notice);
      return;
    }
    if (route === 'GET /login') {
      const session = sessions.start(ctx);
      delete session.pending;
      await startLogin(ctx, session);
      return;
    }
    if (route === 'GET /callback') {
      const session = found ?? {};
      const login = session.login;
      delete session.login;
      if (!login) return void ((ctx.status = 400), (ctx.body = errorPage(400, 'no login in progress: start again')));
      try {
        const tokens = await oidc.authorizationCodeGrant(config, new URL(ctx.originalUrl, appUrl), {
          pkceCodeVerifier: login.verifier,
          expectedState: login.state,
          expectedNonce: login.nonce,
          idTokenExpected: true,
          // A step-up: the ID token's auth_time must be within the max_age asked for.
          ...(login.maxAge !== undefined ? { maxAge: login.maxAge } : {}),
        }, undefined, dpopOf(session));
        keep(session, tokens);
        const claims = tokens.claims()!;
        session.sid = typeof claims.sid === 'string' ? claims.sid : undefined;
        session.user = {
          sub: claims.sub,
          name: claims.name as string | undefined,
          email: claims.email as string | undefined,
          username: claims.preferred_username as string | undefined,
        };
      } catch (err) {
        ctx.status = 400;
        ctx.body = errorPage(400, `sign-in failed: ${(err as Error).message}`);
        return;
      }
      const pending = session.pending;
      delete session.pending;
      if (pending) {
        // The change the API refused before this sign-in: once more, with the new token.
        const result = await changeAddress(session, pending.address);
        if (!(result instanceof Response) || result.status !== 200) {
          ctx.status = 403;
          ctx.body = errorPage(403, `the Orders API still refused the change (${result instanceof Response ? result.status : 'it asks for a sign-in Latch did not give'})`);
          return;
        }
        session.notice = 'Delivery address changed.';
        return ctx.redirect('/address');
      }
      ctx.redirect('/');
      return;
    }
    const session = found;
    if (!session?.tokens) return ctx.redirect('/login');

    if (route === 'GET /orders') {
      const response = await callApi(session, '/orders');
      if (response.status === 401) return backToLogin(ctx);
      if (response.status !== 200) {
        ctx.status = response.status === 403 ? 403 : 502;
        ctx.body = errorPage(ctx.status, `the Orders API answered ${response.status}`);
        return;
      }
      ctx.body = ordersPage((await response.json()) as OrdersView);
      return;
    }
    if (route === 'POST /orders') {
      let text = '';
      for await (const chunk of ctx.req) text += String(chunk);
      const item = new URLSearchParams(text).get('item') ?? '';
      const response = await callApi(session, '/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ item }) });
      if (response.status === 401) return backToLogin(ctx);
      if (response.status !== 201) {
        ctx.status = response.status === 403 ? 403 : 502;
        ctx.body = errorPage(ctx.status, `the Orders API answered ${response.status}`);
        return;
      }
      return ctx.redirect('/orders');
    }
    if (route === 'GET /address') {
      const response = await callApi(session, '/address');
      if (response.status === 401) return backToLogin(ctx);
      if (response.status !== 200) {
        ctx.status = response.status === 403 ? 403 : 502;
        ctx.body = errorPage(ctx.status, `the Orders API answered ${response.status}`);
        return;
      }
      const notice = session.notice;
      delete session.notice;
      ctx.body = addressPage(((await response.json()) as { address: string }).address, notice);
      return;
    }
    if (route === 'POST /address') {
      let text = '';
      for await (const chunk of ctx.req) text += String(chunk);
      const address = new URLSearchParams(text).get('address') ?? '';
      const result = await changeAddress(session, address);
      if (!(result instanceof Response)) {
        // RFC 9470: the API wants a fresher (or stronger) sign-in. Keep the change, sign in, retry.
        session.pending = { address };
        return startLogin(ctx, session, result.stepUp);
      }
      if (result.status === 401) return backToLogin(ctx);
      if (result.status !== 200) {
        ctx.status = result.status === 403 ? 403 : result.status === 400 ? 400 : 502;
        ctx.body = errorPage(ctx.status, `the Orders API answered ${result.status}`);
        return;
      }
      session.notice = 'Delivery address changed.';
      return ctx.redirect('/address');
    }
    if (route === 'POST /refresh') {
      if (!(await refresh(session))) return backToLogin(ctx);
      session.notice = 'Access token refreshed.';
      return ctx.redirect('/');
    }
    if (route === 'POST /logout') {
      const { refreshToken, idToken } = session.tokens;
      // RFC 7009: revoking the refresh token ends the grant (its access tokens die with it).
      if (refreshToken) await oidc.tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' }).catch(() => undefined);
      sessions.destroy(ctx);
      const end = oidc.buildEndSessionUrl(config, { post_logout_redirect_uri: `${appUrl}/`, ...(idToken ? { id_token_hint: idToken } : {}) });
      return ctx.redirect(end.href);
    }
  });
  return app;
}
