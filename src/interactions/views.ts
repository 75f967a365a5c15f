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

export interface DeviceRow {
  id: string;
  clientName: string;
  createdAt?: number;
  lastUsedAt?: number;
  ip?: string;
  place?: string;
  userAgent?: string;
  current: boolean;
}

function when(ms: number | undefined): string {
  return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '—';
}

/** A short, readable browser/OS label from a User-Agent header. */
export function describeAgent(ua: string | undefined): string {
  if (!ua) return 'unknown';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Chrome\//.test(ua) ? 'Chrome' : /Firefox\//.test(ua) ? 'Firefox' : /Safari\//.test(ua) ? 'Safari' : ua.split(/[ /]/)[0]!;
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

export function devicesPage(view: { username: string; csrf: string; devices: DeviceRow[] }): string {
  return page(
    'Your devices',
    html`<h1>Your devices</h1>
    <p class="muted">Signed in as <strong>${view.username}</strong>. These apps and devices can use your account.</p>
    ${view.devices.length === 0
      ? html`<p>No active sessions.</p>`
      : html`<table>
      <thead><tr><th>App</th><th>Signed in</th><th>Last used</th><th>Where</th><th>Browser</th><th></th></tr></thead>
      <tbody>
      ${view.devices.map(
        (d) => html`<tr>
          <td>${d.clientName}${d.current ? html` <span class="muted">(this browser)</span>` : ''}</td>
          <td>${when(d.createdAt)}</td>
          <td>${when(d.lastUsedAt)}</td>
          <td>${d.ip ?? '—'}${d.place ? html`<br><span class="muted">${d.place}</span>` : ''}</td>
          <td title="${d.userAgent ?? ''}">${describeAgent(d.userAgent)}</td>
          <td><form method="post" action="/account/devices/${d.id}/end"><input type="hidden" name="csrf" value="${view.csrf}"><button type="submit" class="secondary">End</button></form></td>
        </tr>`,
      )}
      </tbody>
    </table>`}
    <form method="post" action="/account/logout-all">
      <input type="hidden" name="csrf" value="${view.csrf}">
      <button type="submit" class="danger">Log out of all devices</button>
    </form>
    <p class="muted">This signs you out everywhere, this browser included, and stops every app's access at once.</p>
    <p><a href="/account/password">Change your password</a></p>`,
    'wide',
  );
}
