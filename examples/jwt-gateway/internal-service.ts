import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import Koa, { type Context } from 'koa';

export interface InternalServiceOptions {
  /** Latch's JWKS URL (`jwks_uri` of its discovery document, /jwks). */
  jwksUrl: string;
  /** Latch's issuer (`iss` of the JWTs). */
  issuer: string;
  /** This service's audience (`tokenExchange.jwtAudiences[].audience` at Latch: the JWTs' `aud`). */
  audience: string;
  /** JWS algorithms accepted (default RS256: what Latch signs with unless the audience names another). */
  algorithms?: string[];
}

/**
 * The private side: trusts only JWT access tokens Latch issued for this audience by token exchange,
 * verified locally (signature against Latch's JWKS, `iss`, `aud`, `typ` at+jwt, `exp`). It never
 * sees an opaque token and never calls Latch. Opaque tokens sent here directly are refused.
 */
export function createInternalService(options: InternalServiceOptions): Koa {
  const keys = createRemoteJWKSet(new URL(options.jwksUrl));
  const app = new Koa();

  function refuse(ctx: Context, description: string) {
    ctx.status = 401;
    ctx.set('www-authenticate', `Bearer realm="internal", error="invalid_token", error_description="${description}"`);
    ctx.body = { error: 'invalid_token', error_description: description };
  }

  app.use(async function verifyLatchJwt(ctx, next) {
    const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(ctx.get('authorization'));
    if (!match) return refuse(ctx, 'a JWT access token from Latch is required');
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(match[1]!, keys, {
        issuer: options.issuer,
        audience: options.audience,
        typ: 'at+jwt',
        algorithms: options.algorithms ?? ['RS256'],
        // Latch caps an exchanged JWT's lifetime at 300 s; anything older is not one of them.
        maxTokenAge: '5m',
      }));
    } catch {
      return refuse(ctx, 'the JWT is invalid or expired');
    }
    ctx.state.claims = claims;
    await next();
  });

  app.use(async function orders(ctx) {
    const claims = ctx.state.claims as JWTPayload & { scope?: string; client_id?: string };
    if (ctx.method === 'GET' && ctx.path === '/orders') {
      if (!String(claims.scope ?? '').split(' ').includes('orders:read')) {
        ctx.status = 403;
        ctx.body = { error: 'insufficient_scope', scope: 'orders:read' };
        return;
      }
      ctx.body = { service: 'internal', orders: [{ id: 1, item: 'Welcome pack', sub: claims.sub }], verified: claims };
      return;
    }
    ctx.status = 404;
  });
  return app;
}
