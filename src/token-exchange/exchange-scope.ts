import { errors } from 'oidc-provider';

const list = (scopes: readonly string[]) => `${scopes.length === 1 ? 'scope' : 'scopes'} ${scopes.join(' ')}`;

/**
 * The scope of the exchanged token (RFC 8693 §2.1, RFC 6749 §3.3): what was asked for, or without
 * `scope` as much of the subject token's live scope as the client may pass to this target. Never
 * more than the live scope (what the user's roles allow right now): an exchange can narrow, never
 * widen. Anything else is `invalid_scope` naming the scopes.
 */
export function exchangedScope(requested: readonly string[] | undefined, live: readonly string[], allowed: ReadonlySet<string>, audience: string): string[] {
  if (requested?.length) {
    const forbidden = requested.filter((scope) => !allowed.has(scope));
    if (forbidden.length) throw new errors.InvalidScope(`this client may not obtain the ${list(forbidden)} for ${audience} by token exchange`, forbidden.join(' '));
    const beyond = requested.filter((scope) => !live.includes(scope));
    if (beyond.length) throw new errors.InvalidScope(`the subject token's live scope does not include the ${list(beyond)}`, beyond.join(' '));
    return [...requested];
  }
  const granted = live.filter((scope) => allowed.has(scope));
  if (granted.length === 0) throw new errors.InvalidScope(`none of the subject token's live scope may be exchanged for ${audience} by this client`, [...allowed].join(' '));
  return granted;
}
