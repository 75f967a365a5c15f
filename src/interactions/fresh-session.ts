import type { Context } from 'koa';
import type Provider from 'oidc-provider';

export interface SignedInSession {
  accountId?: string;
  loginTs?: number;
  acr?: string;
  amr?: string[];
}

/**
 * Gives this browser a new session for the same sign-in, after a revocation of the whole account
 * (a password change) killed every session born before it, this browser's included. The new
 * record has a new id and uid and is born after the epoch (UPSERT never stamps below the epoch's
 * mark), so it is alive; it carries none of the old session's app authorizations: their grants
 * died with the epoch, and an app asks again (without a password, the browser is signed in).
 * The cookie is oidc-provider's own session cookie, set the way its session middleware sets it.
 */
export async function renewSession(ctx: Context, provider: Provider, old: SignedInSession, ttlSeconds: number): Promise<void> {
  // oidc-provider's Session takes its payload in the constructor (its typings say nothing of it).
  const Session = provider.Session as unknown as new (payload: SignedInSession) => InstanceType<Provider['Session']>;
  const session = new Session({ accountId: old.accountId, loginTs: old.loginTs, acr: old.acr, amr: old.amr });
  await session.save(ttlSeconds);
  ctx.cookies.set(provider.cookieName('session'), session.jti, {
    signed: true, httpOnly: true, sameSite: 'lax', path: '/', overwrite: true, secure: ctx.secure,
    expires: new Date(Date.now() + ttlSeconds * 1000),
  });
}
