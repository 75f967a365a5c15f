import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';

/**
 * Caps on what an anonymous caller makes Latch store: an authorization request's parameters are
 * kept in its Interaction record until the user signs in, so without a cap one `GET /auth` with
 * a long `state` and `nonce` stored ~16 KiB. 2048 characters fit the longest `state` values real
 * clients send (ASP.NET's protected state is ~1–1.5 KB) and any ID token as `id_token_hint`.
 */
export const MAX_PARAMETER_LENGTH = 2048;
export const MAX_PARAMETERS_LENGTH = 4096;

/** oidc-provider's authorization request parameters (lib/consts/param_list.js) and `resource`. */
const PARAMETERS = [
  'acr_values', 'claims_locales', 'client_id', 'code_challenge', 'code_challenge_method', 'display', 'id_token_hint',
  'login_hint', 'max_age', 'nonce', 'prompt', 'redirect_uri', 'registration', 'request', 'request_uri', 'response_mode',
  'response_type', 'scope', 'state', 'ui_locales', 'resource',
] as const;

const checked = new WeakSet<object>();

/**
 * One check of every parameter's length and of their sum. RFC 6749 §4.1.2.1: an invalid
 * parameter is `invalid_request`, and once the client and its redirect URI are known to be
 * valid the error goes back to the client. oidc-provider runs its extra-parameter validators
 * after checking the redirect URI and before any interaction is stored, so an error thrown here
 * is redirected there (with `state` and `iss`) and nothing is saved.
 */
function checkLengths(ctx: KoaContextWithOIDC): void {
  if (checked.has(ctx)) return;
  checked.add(ctx);
  const params = ctx.oidc.params as Record<string, unknown> | undefined;
  let total = 0;
  for (const name of PARAMETERS) {
    const values = [params?.[name] ?? []].flat().filter((v): v is string => typeof v === 'string');
    for (const value of values) {
      if (value.length > MAX_PARAMETER_LENGTH) throw new errors.InvalidRequest(`${name} is longer than ${MAX_PARAMETER_LENGTH} characters`);
      total += value.length;
    }
  }
  if (total > MAX_PARAMETERS_LENGTH) throw new errors.InvalidRequest(`the request's parameters are longer than ${MAX_PARAMETERS_LENGTH} characters together`);
}

/**
 * oidc-provider's `extraParams`, used only for their validators: every name here is a parameter
 * it accepts anyway (listing one it does not know would make it accept that one).
 */
export function parameterCaps(): NonNullable<Configuration['extraParams']> {
  const validate = async (ctx: KoaContextWithOIDC) => checkLengths(ctx);
  return Object.fromEntries(PARAMETERS.map((name) => [name, validate]));
}
