import type Koa from 'koa';

/**
 * In production every cookie is `Secure`, whatever LATCH_TRUSTED_PROXIES says. Koa's cookies
 * (and oidc-provider's, which it makes through its own contexts of the same app) are `Secure` when
 * `ctx.secure`, i.e. when the request arrived over TLS or a trusted proxy said so in
 * X-Forwarded-Proto; behind a TLS proxy with LATCH_TRUSTED_PROXIES=0 neither holds and the
 * session, interaction, CSRF and known-device cookies went out without `Secure`. A production
 * issuer is https (load.ts), so a production request reached the browser's side over TLS: the
 * app's requests say so, on the request prototype every context of the app inherits from.
 */
export function secureCookiesAlways(app: Koa): void {
  Object.defineProperty(app.request, 'secure', { get: () => true, configurable: true });
}
