import { createHash } from 'node:crypto';
import Koa from 'koa';
import { extractBearerToken, koaResourceServer, type ResourceServer } from 'latch/resource-server';
import * as oidc from 'openid-client';

export interface GatewayOptions {
  /** The introspecting core (audience = the public API's audience at Latch). */
  resourceServer: ResourceServer;
  /** The gateway's client at Latch: an introspector of the public API, allowed to exchange (clients[].token_exchange). */
  latch: { issuer: string; clientId: string; clientSecret: string };
  /** The internal service's base URL (private network). */
  internalUrl: string;
  /** The internal audience at Latch (`tokenExchange.jwtAudiences[].audience`). */
  internalAudience: string;
  /** How many exchanged JWTs are kept for reuse (default 10,000). */
  maxCachedJwts?: number;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'te', 'trailer', 'host', 'content-length']);
const MAX_BODY = 1024 * 1024;
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
/** A cached JWT is reused only while it has at least this long left (the hop takes time too). */
const REUSE_MARGIN_MS = 5000;

/**
 * The hybrid front door. Outside: opaque Latch tokens, introspected on every request, so a revoked
 * token stops here at once. Inside: a short-lived JWT that Latch itself signs by token exchange
 * (RFC 8693 at Latch's /token; RFC 9068 shape), which the internal service verifies against
 * Latch's /jwks without calling Latch. The JWT of a token is reused while it lives (the door
 * still introspects every request): one exchange per token per JWT lifetime, not per request.
 *   ANY /api/<path>   → <internalUrl>/<path> with Authorization: Bearer <jwt>
 */
export async function createGateway(options: GatewayOptions): Promise<Koa> {
  const door = koaResourceServer(options.resourceServer);
  const issuer = new URL(options.latch.issuer);
  const loopback = issuer.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname);
  const latch = await oidc.discovery(issuer, options.latch.clientId, undefined, oidc.ClientSecretBasic(options.latch.clientSecret), {
    execute: loopback ? [oidc.allowInsecureRequests] : [],
  });
  const maxCached = options.maxCachedJwts ?? 10_000;
  /** SHA-256 of the opaque token → its JWT (never the opaque token itself as a key). */
  const jwts = new Map<string, { jwt: string; expiresAt: number }>();

  async function internalJwt(token: string): Promise<string> {
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = jwts.get(key);
    if (cached && cached.expiresAt - Date.now() > REUSE_MARGIN_MS) return cached.jwt;
    const response = await oidc.genericGrantRequest(latch, TOKEN_EXCHANGE, {
      subject_token: token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: JWT_TYPE,
      audience: options.internalAudience,
    });
    jwts.delete(key);
    if (jwts.size >= maxCached) jwts.delete(jwts.keys().next().value!);
    jwts.set(key, { jwt: response.access_token, expiresAt: Date.now() + (response.expires_in ?? 0) * 1000 });
    return response.access_token;
  }

  const app = new Koa();
  app.use(async function onlyApi(ctx, next) {
    if (!ctx.path.startsWith('/api/')) return void (ctx.status = 404);
    await next();
  });
  app.use(door.authenticate);
  app.use(async function forward(ctx) {
    // The door has checked it: the same token, read the same way.
    const token = extractBearerToken({ authorization: ctx.req.headersDistinct.authorization, url: ctx.url });
    let jwt: string;
    try {
      jwt = await internalJwt(token);
    } catch (err) {
      // Revoked between the door and the exchange: Latch says invalid_request for the subject token.
      if (err instanceof oidc.ResponseBodyError && err.error === 'invalid_request') {
        ctx.status = 401;
        ctx.set('www-authenticate', `Bearer realm="${options.resourceServer.realm}", error="invalid_token"`);
        ctx.body = { error: 'invalid_token', error_description: 'the access token is not active (expired, revoked or unknown)' };
        return;
      }
      ctx.status = 503;
      ctx.set('retry-after', '1');
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the authorization server could not be reached, retry later' };
      return;
    }

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
