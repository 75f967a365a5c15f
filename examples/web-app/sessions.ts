import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { DPoPHandle } from 'openid-client';

/** Everything the app knows about a browser; tokens stay here, on the server (never in the browser). */
export interface Session {
  /** A sign-in in progress; `maxAge` when it is a step-up the API asked for (checked against the ID token's auth_time). */
  login?: { verifier: string; state: string; nonce: string; maxAge?: number };
  /** A change the API refused until the user signs in again (RFC 9470 step-up), retried after the sign-in. */
  pending?: { address: string };
  tokens?: { accessToken: string; refreshToken?: string; idToken?: string; expiresAt: number };
  user?: { sub: string; name?: string; email?: string; username?: string };
  /** The `sid` of Latch's ID token: how a back-channel logout names this session. */
  sid?: string;
  notice?: string;
  /** The DPoP key of this sign-in (with the nonces servers sent), when the app uses DPoP. */
  dpop?: DPoPHandle | undefined;
}

const COOKIE = 'demo_sid';

/** In-memory sessions keyed by a random id in an HttpOnly, SameSite=Lax cookie. */
export class Sessions {
  readonly #byId = new Map<string, Session>();
  readonly #secure: boolean;

  constructor(secure: boolean) {
    this.#secure = secure;
  }

  find(ctx: Context): Session | undefined {
    const id = ctx.cookies.get(COOKIE);
    return id ? this.#byId.get(id) : undefined;
  }

  /** Only a sign-in starts a session: stray requests (favicon…) must not replace the cookie. */
  start(ctx: Context): Session {
    const found = this.find(ctx);
    if (found) return found;
    const fresh: Session = {};
    const newId = randomBytes(32).toString('base64url');
    this.#byId.set(newId, fresh);
    ctx.cookies.set(COOKIE, newId, { httpOnly: true, sameSite: 'lax', secure: this.#secure, path: '/' });
    return fresh;
  }

  /**
   * Back-channel logout (OIDC Back-Channel Logout 1.0 §2.7): ends the sessions of `sub` with `sid`,
   * or, without a sid, every session of `sub`. Returns how many ended.
   */
  endWhere(sub: string | undefined, sid: string | undefined): number {
    let ended = 0;
    for (const [id, session] of this.#byId) {
      const matches = sid ? session.sid === sid && (!sub || session.user?.sub === sub) : sub !== undefined && session.user?.sub === sub;
      if (matches) {
        this.#byId.delete(id);
        ended++;
      }
    }
    return ended;
  }

  destroy(ctx: Context): void {
    const id = ctx.cookies.get(COOKIE);
    if (id) this.#byId.delete(id);
    ctx.cookies.set(COOKIE, '', { httpOnly: true, sameSite: 'lax', secure: this.#secure, path: '/', maxAge: 0 });
  }
}
