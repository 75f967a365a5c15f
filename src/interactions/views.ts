import { Html, html, page } from './html.js';

export interface LoginView {
  uid: string;
  csrf: string;
  clientName: string;
  username?: string;
  error?: string;
}

export function loginPage(view: LoginView): string {
  return page(
    'Sign in',
    html`<h1>Sign in</h1>
    <p class="muted">to continue to <strong>${view.clientName}</strong></p>
    ${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
    <form method="post" action="/interaction/${view.uid}/login" autocomplete="on">
      <input type="hidden" name="csrf" value="${view.csrf}">
      <label for="username">Username</label>
      <input id="username" name="username" type="text" autocomplete="username" required autofocus value="${view.username ?? ''}">
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required>
      <button type="submit">Sign in</button>
    </form>
    <form method="post" action="/interaction/${view.uid}/abort">
      <input type="hidden" name="csrf" value="${view.csrf}">
      <button type="submit" class="secondary">Cancel</button>
    </form>`,
  );
}

export interface ConsentView {
  uid: string;
  csrf: string;
  clientName: string;
  username: string;
  scopes: Array<{ name: string; description: string }>;
  resources: string[];
}

export function consentPage(view: ConsentView): string {
  return page(
    'Authorize',
    html`<h1>Authorize ${view.clientName}</h1>
    <p class="muted">Signed in as <strong>${view.username}</strong></p>
    <p>${view.clientName} asks to:</p>
    <ul class="scopes">
      ${view.scopes.map((s) => html`<li><code>${s.name}</code> ${s.description}</li>`)}
    </ul>
    ${view.resources.length ? html`<p class="muted">for ${view.resources.map((r, i) => html`${i ? ', ' : ''}<code>${r}</code>`)}</p>` : ''}
    <form method="post" action="/interaction/${view.uid}/confirm">
      <input type="hidden" name="csrf" value="${view.csrf}">
      <button type="submit">Allow</button>
    </form>
    <form method="post" action="/interaction/${view.uid}/abort">
      <input type="hidden" name="csrf" value="${view.csrf}">
      <button type="submit" class="secondary">Deny</button>
    </form>`,
  );
}

export function messagePage(title: string, message: string | Html): string {
  return page(title, html`<h1>${title}</h1><p>${message}</p>`);
}

/** oidc-provider's logout confirmation; `form` is its own hidden form (with its xsrf field). */
export function logoutPage(host: string, form: string): string {
  return page(
    'Sign out',
    html`<h1>Sign out</h1>
    <p>Do you want to sign out of <strong>${host}</strong>?</p>
    ${new Html(form)}
    <button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
    <button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>`,
  );
}

export function errorPage(error: string, description?: string): string {
  return page(
    'Something went wrong',
    html`<h1>Something went wrong</h1>
    <p><code>${error}</code></p>
    ${description ? html`<p class="muted">${description}</p>` : ''}`,
  );
}
