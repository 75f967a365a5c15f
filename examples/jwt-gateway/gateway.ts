import { randomUUID } from 'node:crypto';
import { exportJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import Koa from 'koa';
import { koaResourceServer, type ResourceServer } from 'latch/resource-server';

export interface GatewayOptions {
  /** The introspecting core (audience = the public API's audience at Latch). */
  resourceServer: ResourceServer;
  /** This gateway's URL: the `iss` of the JWTs it mints. */
  issuer: string;
  /** The internal service's base URL (private network). */
  internalUrl: string;
  /** The `aud` of the minted JWTs: names the internal service. */
  internalAudience: string;
  signingKey: { privateKey: CryptoKey; publicKey: CryptoKey; kid: string };
  /** Lifetime of a minted JWT; short, since it cannot be revoked (default 60 s). */
  ttlSeconds?: number;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'te', 'trailer', 'host', 'content-length']);
const MAX_BODY = 1024 * 1024;

/**
 * The hybrid front door. Outside: opaque Latch tokens, introspected on every request, so a revoked
 * token stops here at once. Inside: a short-lived JWT (RFC 9068 shape, ES256) the internal service
 * verifies locally against this gateway's JWKS, without calling Latch.
 *   GET /.well-known/jwks.json    the public key(s)
 *   ANY /api/<path>               → <internalUrl>/<path> with Authorization: Bearer <jwt>
 */
export async function createGateway(options: GatewayOptions): Promise<Koa> {
  const door = koaResourceServer(options.resourceServer);
  const ttl = options.ttlSeconds ?? 60;
  const { privateKey, publicKey, kid } = options.signingKey;
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } as JWK] };

  const app = new Koa();
  app.use(async function publishJwks(ctx, next) {
    if (ctx.path !== '/.well-known/jwks.json') return next();
    ctx.set('cache-control', 'public, max-age=300');
    ctx.body = jwks;
  });
  app.use(async function onlyApi(ctx, next) {
    if (!ctx.path.startsWith('/api/')) return void (ctx.status = 404);
    await next();
  });
  app.use(door.authenticate);
  app.use(async function forward(ctx) {
    const auth = ctx.state.auth!;
    const jwt = await new SignJWT({ client_id: auth.clientId, scope: auth.scopes.join(' '), roles: auth.roles, ...(auth.claims.preferred_username ? { preferred_username: auth.claims.preferred_username } : {}) })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setIssuer(options.issuer)
      .setAudience(options.internalAudience)
      .setSubject(auth.sub ?? auth.clientId)
      .setIssuedAt()
      .setExpirationTime(`${ttl}s`)
      .setJti(randomUUID())
      .sign(privateKey);

    const headers = new Headers();
    for (const [name, value] of Object.entries(ctx.headers)) {
      if (HOP_BY_HOP.has(name) || name === 'authorization' || name === 'cookie' || value === undefined) continue;
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    headers.set('authorization', `Bearer ${jwt}`);
    let body: Buffer | undefined;
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of ctx.req) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY) return ctx.throw(413, 'body too large');
        chunks.push(chunk as Buffer);
      }
      body = Buffer.concat(chunks);
    }
    const target = `${options.internalUrl}${ctx.url.slice('/api'.length)}`;
    let response: Response;
    try {
      response = await fetch(target, { method: ctx.method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(5000) });
    } catch {
      ctx.status = 502;
      ctx.body = { error: 'bad_gateway', error_description: 'the internal service did not answer' };
      return;
    }
    ctx.status = response.status;
    const type = response.headers.get('content-type');
    if (type) ctx.type = type;
    ctx.body = Buffer.from(await response.arrayBuffer());
  });
  return app;
}
