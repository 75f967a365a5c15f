/** What an API's step-up challenge asks of the sign-in (RFC 9470 §3). */
export interface StepUp {
  maxAge?: number;
  acrValues?: string;
}

/** One auth-param of a WWW-Authenticate challenge, quoted or not. */
function param(header: string, name: string): string | undefined {
  const match = new RegExp(`(?:^|[\\s,])${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^\\s,]+))`, 'i').exec(header);
  return match ? (match[1] ?? match[2])!.replace(/\\(.)/g, '$1') : undefined;
}

/**
 * The step-up an API's 401 asks for: `error="insufficient_user_authentication"` with `max_age`
 * and/or `acr_values` (RFC 9470 §3), or undefined for any other answer (an expired token, …).
 */
export function stepUpChallenge(response: Response): StepUp | undefined {
  if (response.status !== 401) return undefined;
  const header = response.headers.get('www-authenticate') ?? '';
  if (param(header, 'error') !== 'insufficient_user_authentication') return undefined;
  const maxAge = Number(param(header, 'max_age'));
  const acrValues = param(header, 'acr_values');
  return { ...(Number.isInteger(maxAge) && maxAge >= 0 ? { maxAge } : {}), ...(acrValues ? { acrValues } : {}) };
}
