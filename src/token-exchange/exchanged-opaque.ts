import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ExchangeSubject } from '../introspection/introspect.js';
import type { ActClaim } from './act-claim.js';
import type { ExchangeTarget } from './exchange-policy.js';
import type { IssuedToken } from './exchanged-jwt.js';
import { signInFacts } from './sign-in-facts.js';
import { TOKEN_EXCHANGE_GRANT } from './token-types.js';

/**
 * A down-scoped opaque access token for another API, delegated (`act`). It is an access token of
 * the subject token's **grant** (oidc-provider's AccessToken model, saved by the Redis adapter
 * under that grant's lineage and index), owned by the exchanging client: whatever ends the grant
 * or its account ends it too (RFC 7009 of the parent, revoke-all, disable, devices page, logout,
 * either client's revocation: adapters/redis/README.md), and introspection applies the user's live
 * roles to it like to any other token. It never outlives the subject token.
 */
export async function issueExchangedOpaque(
  ctx: KoaContextWithOIDC,
  target: Extract<ExchangeTarget, { kind: 'opaque' }>,
  subject: ExchangeSubject,
  scopes: string[],
  act: ActClaim,
): Promise<IssuedToken> {
  if (!subject.grantId || !subject.accountId) {
    // A client's own token has no grant whose end would end the new one.
    throw new errors.InvalidRequest("subject_token is a client's own token (client credentials): only a user's token can be exchanged for an opaque token; ask for a JWT, or use client_credentials");
  }
  const now = Math.floor(Date.now() / 1000);
  const expiresIn = Math.min(target.ttlSeconds, (subject.exp ?? Infinity) - now);
  const { AccessToken } = ctx.oidc.provider;
  const token = new AccessToken({
    client: ctx.oidc.client!,
    accountId: subject.accountId,
    grantId: subject.grantId,
    gty: TOKEN_EXCHANGE_GRANT,
    scope: scopes.join(' '),
    // Kept as is by extraTokenClaims (src/provider/token-claims.ts), answered by introspection.
    extra: { ...signInFacts(subject.extra), act },
    expiresIn,
  } as unknown as ConstructorParameters<typeof AccessToken>[0]);
  token.setAudience(target.audience);
  ctx.oidc.entity('AccessToken', token);
  return { value: await token.save(), expiresIn };
}
