import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AuthInfo } from './auth-info.js';
import type { BearerResponse } from './challenge.js';
import { claimCheck, requireAnyScope, requireRole, requireScopes, type Guard } from './guards.js';
import type { ResourceServerOptions } from './options.js';
import { ResourceServer } from './resource-server.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `authenticate` of latch/resource-server. */
      auth?: AuthInfo;
    }
  }
}

export interface ExpressResourceServer {
  /** Verifies the bearer token and sets `req.auth`, or answers 400/401/503 itself. */
  authenticate: RequestHandler;
  requireScopes(...scopes: string[]): RequestHandler;
  requireAnyScope(...scopes: string[]): RequestHandler;
  requireRole(...roles: string[]): RequestHandler;
  claimCheck(...args: Parameters<typeof claimCheck>): RequestHandler;
  guard(guard: Guard): RequestHandler;
  resourceServer: ResourceServer;
  close(): Promise<void>;
}

function respond(res: Response, response: BearerResponse): void {
  res.status(response.status).set(response.headers);
  if (response.body) res.json(response.body);
  else res.end();
}

/** Express 5 middleware over a ResourceServer (created from `options`, or shared). */
export function expressResourceServer(options: ResourceServerOptions | ResourceServer): ExpressResourceServer {
  const rs = options instanceof ResourceServer ? options : new ResourceServer(options);

  async function authenticate(req: Request, res: Response, next: NextFunction) {
    let auth: AuthInfo;
    try {
      auth = await rs.authenticate({ authorization: req.headersDistinct.authorization, url: req.originalUrl });
    } catch (err) {
      return respond(res, rs.challenge(err));
    }
    req.auth = auth;
    next();
  }

  function guard(check: Guard): RequestHandler {
    return function guarded(req: Request, res: Response, next: NextFunction) {
      if (!req.auth) throw new Error(`${check.name}: the authenticate middleware must run first`);
      try {
        check(req.auth);
      } catch (err) {
        return respond(res, rs.challenge(err));
      }
      next();
    };
  }

  return {
    authenticate,
    requireScopes: (...scopes) => guard(requireScopes(...scopes)),
    requireAnyScope: (...scopes) => guard(requireAnyScope(...scopes)),
    requireRole: (...roles) => guard(requireRole(...roles)),
    claimCheck: (...args) => guard(claimCheck(...args)),
    guard,
    resourceServer: rs,
    close: () => rs.close(),
  };
}
