import type Provider from 'oidc-provider';

/**
 * oidc-provider answers every `invalid_grant` with the same "grant request is invalid" and keeps
 * the reason to itself (`error_detail`), so that a grant's existence does not leak. A DPoP
 * refusal tells nothing a thief does not know already, and its reason is what the client must fix:
 * these are said (RFC 6749 §5.2 error_description), every other invalid_grant stays generic.
 */
const DPOP_REASONS = new Map([
  ['DPoP proof JWT Replay detected', 'the DPoP proof was already used (its jti is spent): make a new proof for every request'],
  ['DPoP proof JWT not provided', 'this client must send a DPoP proof with every token request (dpop_bound_access_tokens)'],
  ['failed jkt verification', 'the refresh token is bound to a DPoP key: send a proof signed by that key'],
  ['missing DPoP proof JWT', 'the authorization code is bound to a DPoP key (dpop_jkt): send a proof signed by that key'],
  ['DPoP proof key thumbprint does not match dpop_jkt', 'the DPoP proof is signed by another key than the dpop_jkt of the authorization request'],
]);

/** Puts the reason of a DPoP `invalid_grant` into its error_description (the body is rendered before the event). */
export function explainDpopGrantErrors(provider: Provider): void {
  provider.on('grant.error', (ctx, err) => {
    const reason = DPOP_REASONS.get(String((err as { error_detail?: unknown }).error_detail ?? ''));
    const body = ctx.body as { error?: unknown } | undefined;
    if (reason && body?.error === 'invalid_grant') ctx.body = { ...body, error_description: reason };
  });
}
