import { Html, html, page } from './html.js';

/** What a new password must be, in the words every password page uses (password-policy.ts). */
function rules(min: number, max: number): Html {
  return html`<p class="muted" id="password-rules">At least ${min} characters (at most ${max}); any characters, spaces too. Not one of the most common passwords, and not your username or email address. A passphrase of a few unrelated words is easy to remember and hard to guess.</p>`;
}

function newPasswordFields(min: number, max: number): Html {
  return html`<label for="password">New password</label>
      <input id="password" name="password" type="password" autocomplete="new-password" required minlength="${min}" maxlength="${max}" aria-describedby="password-rules">
      <label for="confirm">New password again</label>
      <input id="confirm" name="confirm" type="password" autocomplete="new-password" required minlength="${min}" maxlength="${max}">
      ${rules(min, max)}`;
}

function error(message: string | undefined): Html | string {
  return message ? html`<p class="error" role="alert">${message}</p>` : '';
}

export interface ChangePasswordView {
  username: string;
  csrf: string;
  minLength: number;
  maxLength: number;
  error?: string;
}

/**
 * The account page's change of password. What happens to the other devices is said before the
 * button, and there is no "keep them signed in" choice (docs/accounts.md says why).
 */
export function changePasswordPage(view: ChangePasswordView): string {
  return page(
    'Change password',
    html`<h1>Change your password</h1>
    <p class="muted">Signed in as <strong>${view.username}</strong></p>
    ${error(view.error)}
    <form method="post" action="/account/password">
      <input type="hidden" name="csrf" value="${view.csrf}">
      <label for="current">Current password</label>
      <input id="current" name="current" type="password" autocomplete="current-password" required autofocus>
      ${newPasswordFields(view.minLength, view.maxLength)}
      <p><strong>Every other device and app signed in to your account will be signed out at once.</strong> This browser stays signed in. If someone else knew your old password, that is what stops them.</p>
      <button type="submit">Change password</button>
    </form>
    <p><a href="/account/devices">Back to your devices</a></p>`,
  );
}

export interface ResetPasswordView {
  username: string;
  token: string;
  csrf: string;
  minLength: number;
  maxLength: number;
  /** The account has no password yet (a set-up link). */
  setup: boolean;
  error?: string;
}

export function resetPasswordPage(view: ResetPasswordView): string {
  return page(
    view.setup ? 'Choose a password' : 'Set a new password',
    html`<h1>${view.setup ? 'Choose your password' : 'Set a new password'}</h1>
    <p class="muted">for <strong>${view.username}</strong></p>
    ${error(view.error)}
    <form method="post" action="/account/reset">
      <input type="hidden" name="csrf" value="${view.csrf}">
      <input type="hidden" name="token" value="${view.token}">
      ${newPasswordFields(view.minLength, view.maxLength)}
      ${view.setup ? '' : html`<p><strong>Every device and app signed in to your account will be signed out</strong>, this browser included: sign in again with the new password.</p>`}
      <button type="submit">Set password</button>
    </form>`,
  );
}

export interface LoginPasswordChangeView {
  uid: string;
  ticket: string;
  csrf: string;
  username: string;
  clientName: string;
  minLength: number;
  maxLength: number;
  error?: string;
}

/** The sign-in step of an account that must choose a new password before it may continue. */
export function loginPasswordChangePage(view: LoginPasswordChangeView): string {
  return page(
    'Choose a new password',
    html`<h1>Choose a new password</h1>
    <p class="muted">Your password was right, but it must be changed before you continue to <strong>${view.clientName}</strong> as <strong>${view.username}</strong>.</p>
    ${error(view.error)}
    <form method="post" action="/interaction/${view.uid}/password">
      <input type="hidden" name="csrf" value="${view.csrf}">
      <input type="hidden" name="ticket" value="${view.ticket}">
      ${newPasswordFields(view.minLength, view.maxLength)}
      <p>Any other device or app still signed in to your account will be signed out.</p>
      <button type="submit">Change password and continue</button>
    </form>
    <form method="post" action="/interaction/${view.uid}/abort">
      <input type="hidden" name="csrf" value="${view.csrf}">
      <button type="submit" class="secondary">Cancel</button>
    </form>`,
  );
}
