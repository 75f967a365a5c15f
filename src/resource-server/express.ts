import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AuthInfo } from './auth-info.js';
import type { BearerResponse } from './challenge.js';
import { frameworkAdapter, type FrameworkAdapter } from './framework-adapter.js';
import type { Guard } from './guards.js';
import type { ResourceServerOptions } from './options.js';
import { pushAnswer } from './push-endpoint.js';
import { ResourceServer, type Authenticated } from './resource-server.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `authenticate` of latch/resource-server. */
      auth?: AuthInfo;
    }
  }
}

/** The adapter; its `authenticate` sets `req.auth`. */
export type ExpressResourceServer = FrameworkAdapter<RequestHandler>;

function respond(res: Response, response: BearerResponse): void {
  res.status(response.status).set(response.headers);
  if (response.body) res.json(response.body);
  else res.end();
}

/** Express 5 middleware over a ResourceServer (created from `options`, or shared). */
export function expressResourceServer(options: ResourceServerOptions | ResourceServer): ExpressResourceServer {
  const rs = options instanceof ResourceServer ? options : new ResourceServer(options);

  async function authenticate(req: Request, res: Response, next: NextFunction) {
    let passed: Authenticated;
    try {
      const headers = req.headersDistinct;
      const href = `${req.protocol}://${req.get('host') ?? ''}${req.originalUrl}`;
      passed = await rs.authenticateRequest({ authorization: headers.authorization, url: req.originalUrl, method: req.method, href, dpop: headers.dpop });
    } catch (err) {
      return respond(res, rs.challenge(err));
    }
    res.set(passed.headers);
    req.auth = passed.auth;
    next();
  }

  function guard(check: Guard): RequestHandler {
    return function guarded(req: Request, res: Response, next: NextFunction) {
      if (!req.auth) throw new Error(`${check.name}: the authenticate middleware must run first`);
      try {
        check(req.auth);
      } catch (err) {
        return respond(res, rs.challenge(err, req.auth));
      }
      next();
    };
  }

  async function securityEvents(req: Request, res: Response, next: NextFunction) {
    const answer = await pushAnswer(rs, req, req.path);
    if (!answer) return next();
    res.status(answer.status).set(answer.headers).end(answer.body);
  }

  return frameworkAdapter<RequestHandler>(rs, authenticate, guard, securityEvents);
}
