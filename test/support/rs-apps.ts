import { createServer, request as httpRequest, type RequestListener, type Server } from 'node:http';
import express from 'express';
import Koa from 'koa';
import { expressResourceServer, koaResourceServer, type AuthInfo, type ResourceServer } from 'latch/resource-server';
import { parseJson } from './oauth.js';

export interface Listening {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Serves `listener` on a free loopback port. */
export async function listen(listener: RequestListener): Promise<Listening> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const withoutClaims = (auth: AuthInfo) => ({ sub: auth.sub, clientId: auth.clientId, scopes: auth.scopes, roles: auth.roles, aud: auth.aud, exp: auth.exp });

/**
 * The routes every adapter test runs against (same paths for Koa and Express):
 * /me any valid token, /read orders:read, /write orders:read+orders:write, /any orders:write or
 * orders:admin, /admin role admin, /viewer role viewer or admin, /alice and /bob claim checks on `sub`.
 */
export function koaTestApi(rs: ResourceServer): RequestListener {
  const api = koaResourceServer(rs);
  const guards: Record<string, Koa.Middleware> = {
    '/read': api.requireScopes('orders:read'),
    '/write': api.requireScopes('orders:read', 'orders:write'),
    '/any': api.requireAnyScope('orders:write', 'orders:admin'),
    '/admin': api.requireRole('admin'),
    '/viewer': api.requireRole('viewer', 'admin'),
    '/alice': api.claimCheck((claims) => claims.sub === 'sub-alice', 'alice only'),
    '/bob': api.claimCheck((claims) => claims.sub === 'sub-bob', 'bob only'),
  };
  const app = new Koa();
  // The Shared Signals push endpoint, when the cache is fed by one (passes everything else on).
  app.use(api.securityEvents);
  app.use(api.authenticate);
  app.use(async (ctx, next) => {
    const guard = guards[ctx.path];
    if (guard) return guard(ctx, next);
    return next();
  });
  app.use((ctx) => {
    ctx.body = { path: ctx.path, auth: withoutClaims(ctx.state.auth!) };
  });
  return app.callback();
}

export function expressTestApi(rs: ResourceServer): RequestListener {
  const api = expressResourceServer(rs);
  const app = express();
  app.use(api.securityEvents);
  app.use(api.authenticate);
  const reply: express.RequestHandler = (req, res) => {
    res.json({ path: req.path, auth: withoutClaims(req.auth!) });
  };
  app.get('/me', reply);
  app.get('/read', api.requireScopes('orders:read'), reply);
  app.get('/write', api.requireScopes('orders:read', 'orders:write'), reply);
  app.get('/any', api.requireAnyScope('orders:write', 'orders:admin'), reply);
  app.get('/admin', api.requireRole('admin'), reply);
  app.get('/viewer', api.requireRole('viewer', 'admin'), reply);
  app.get('/alice', api.claimCheck((claims) => claims.sub === 'sub-alice', 'alice only'), reply);
  app.get('/bob', api.claimCheck((claims) => claims.sub === 'sub-bob', 'bob only'), reply);
  return app as unknown as RequestListener;
}

export interface RsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown> | undefined;
}

/** A raw GET (node:http, so repeated headers stay repeated); `authorization` may be several values. */
export function get(url: string, headers: Record<string, string | string[]> = {}): Promise<RsResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const json = parseJson(text);
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
