import type { KoaContextWithOIDC } from 'oidc-provider';
import { TOKEN_EXCHANGE_GRANT } from '../config/schema.js';

/**
 * The `acr` of Latch's one way of signing in: a password on its own login page. Advertised in
 * discovery (`acr_values_supported`), recorded on the browser session at login, carried into
 * tokens and introspection (RFC 9470 §6.1).
 */
export const PASSWORD_ACR = 'urn:latch:acr:password';

/** RFC 8176 §2: "pwd", password-based authentication. */
export const PASSWORD_AMR: readonly string[] = Object.freeze(['pwd']);

/** The facts of a sign-in (RFC 9068 §2.2.1, RFC 9470 §6.1) as they appear in tokens and introspection. */
export interface AuthenticationClaims {
  auth_time: number;
  acr?: string;
  amr?: string[];
}

interface AuthenticationSource {
  authTime?: number;
  acr?: string;
  amr?: string[];
}

interface TokenLike {
  kind: string;
  gty?: string;
  extra?: Record<string, unknown>;
}

/**
 * oidc-provider's `extraTokenClaims`: what an access token carries besides its own fields, stored
 * with it (`extra`) and merged into every introspection answer of it.
 * - a user's access token carries the facts of the sign-in it comes from (`auth_time`, `acr`,
 *   `amr`): the code records the browser session's login when it is issued, the refresh token
 *   keeps them from that code, so a refreshed token says when the user last *authenticated*, not
 *   when the token was minted; a new sign-in (`prompt=login`, `max_age`) gives a newer one;
 * - an exchanged token (RFC 8693) carries what the exchange decided (`act`, and the subject
 *   token's sign-in facts): src/token-exchange/.
 */
export async function extraTokenClaims(ctx: KoaContextWithOIDC | undefined, token: TokenLike): Promise<Record<string, unknown> | undefined> {
  if (token.kind !== 'AccessToken') return undefined;
  if (token.gty === TOKEN_EXCHANGE_GRANT) return token.extra;
  const entities = ctx?.oidc?.entities as { AuthorizationCode?: AuthenticationSource; RefreshToken?: AuthenticationSource } | undefined;
  return authenticationClaims(entities?.AuthorizationCode ?? entities?.RefreshToken) as Record<string, unknown> | undefined;
}

/** The sign-in facts of a code or refresh token, or undefined when it records none. */
export function authenticationClaims(source: AuthenticationSource | undefined): AuthenticationClaims | undefined {
  if (typeof source?.authTime !== 'number') return undefined;
  return {
    auth_time: source.authTime,
    ...(source.acr ? { acr: source.acr } : {}),
    ...(source.amr?.length ? { amr: [...source.amr] } : {}),
  };
}
