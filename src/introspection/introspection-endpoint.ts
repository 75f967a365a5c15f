import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { decodeProtectedHeader } from 'jose';
import { InvalidClient, InvalidRequest, OAuthError, TemporarilyUnavailable } from '../errors/oauth-error.js';
import { BodyTooLarge, readBody } from '../http/request-body.js';
import type { LatchMetrics } from '../http/metrics.js';
import type { Logger } from '../log/logger.js';
import { WarningThrottle } from '../log/warning-throttle.js';
import type { RateLimits } from '../rate-limit/rate-limits.js';
import { TooManyRequests } from '../rate-limit/too-many-requests.js';
import { readCredentials, type ClientAuthenticator } from './client-authenticator.js';
import type { Introspector } from './introspect.js';
import type { JwtResponder } from './jwt-response.js';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** oidc-provider's own body limit for this endpoint, kept so both paths accept the same requests. */
const BODY_LIMIT = 56 * 1024;
const PARAMS = ['token', 'token_type_hint', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type'];
const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

function isStructured(token: string): boolean {
  if (!token.includes('.')) return false;
  try {
    return !!decodeProtectedHeader(token);
  } catch {
    return false;
  }
}

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { ...HEADERS, ...extra, 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

/**
 * `POST /introspect`, the hot path, served without Koa: parse the form, authenticate the resource
 * server with its secret (constant time), one Redis round trip, write JSON (or a signed JWT,
 * RFC 9701, for callers that registered an algorithm and ask for it). Rate limits (per address,
 * then per authenticated client) are checked in memory first: they add no Redis command here.
 *
 * Anything rarer goes to oidc-provider's own introspection (same path, same base answers, without
 * the live roles and claims): private_key_jwt/mTLS callers, repeated parameters, structured tokens
 * and non-form bodies. A body already read is handed over in `req.body`, which oidc-provider accepts.
 */
export interface JwtResponses {
  responder: JwtResponder;
  /** client_id → introspection_signed_response_alg, for clients that registered one. */
  algs: ReadonlyMap<string, string>;
}

export function introspectionEndpoint(
  introspector: Introspector,
  authenticator: ClientAuthenticator,
  jwt: JwtResponses,
  logger: Logger,
  metrics: LatchMetrics,
  limits: RateLimits,
  fallback: Listener,
): Listener {
  const failureLog = new WarningThrottle(logger);

  function observe(started: bigint, status: number): void {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    metrics.observe('/introspect', 'POST', status, ms / 1000);
    if (logger.isLevelEnabled('debug')) logger.debug({ method: 'POST', path: '/introspect', status, ms }, 'request');
  }

  /** oidc-provider's route, for a request whose address is counted already. */
  const handOver: Listener = (req, res) => {
    limits.handedOver(req);
    fallback(req, res);
  };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    // Before anything else, also for requests handed to oidc-provider's route.
    const refusal = limits.admitAddress('introspection', limits.addressOf(req));
    if (refusal) {
      send(res, refusal.status, refusal.toJSON(), refusal.headers());
      return observe(started, refusal.status);
    }
    const accept = req.headers.accept;
    const type = req.headers['content-type'];
    if (!type?.startsWith('application/x-www-form-urlencoded')) return handOver(req, res);
    const wantsJwt = !!accept?.includes('application/token-introspection+jwt');
    let raw: Buffer;
    try {
      raw = await readBody(req, BODY_LIMIT);
    } catch (err) {
      if (err instanceof BodyTooLarge) return send(res, 400, new InvalidRequest('failed to parse the request body'), { connection: 'close' });
      throw err;
    }
    const parsed = parseQuery(raw.toString('utf8'));
    const params = new URLSearchParams();
    for (const name of PARAMS) {
      const value = parsed[name];
      if (Array.isArray(value)) {
        (req as IncomingMessage & { body?: Buffer }).body = raw;
        return handOver(req, res);
      }
      if (value !== undefined) params.set(name, value);
    }

    let status = 200;
    try {
      const credentials = readCredentials(req.headers.authorization, params);
      if (!credentials) {
        status = 401;
        return send(res, 401, { error: 'invalid_client', error_description: 'client authentication is required' }, { 'www-authenticate': 'Basic realm="latch"' });
      }
      const token = params.get('token');
      if (credentials.kind === 'other' || (token && isStructured(token))) {
        (req as IncomingMessage & { body?: Buffer }).body = raw;
        return handOver(req, res);
      }
      const callerId = authenticator.authenticate(credentials);
      // Only now, authenticated: naming a client does not spend its budget.
      const overBudget = limits.admitClient('introspection', callerId);
      if (overBudget) throw overBudget;
      if (!token) throw new InvalidRequest("missing required parameter 'token'");
      const answer = await introspector.introspect(callerId, token, params.get('token_type_hint'));
      metrics.introspections.inc({ result: answer.active ? 'active' : 'inactive' });
      const alg = wantsJwt ? jwt.algs.get(callerId) : undefined;
      if (!alg) return send(res, 200, answer);
      // RFC 9701 §5: signed when the caller asks for it and registered an algorithm.
      const signed = await jwt.responder.sign(answer, callerId, alg);
      res.writeHead(200, { ...HEADERS, 'content-type': 'application/token-introspection+jwt; charset=utf-8', 'content-length': Buffer.byteLength(signed) });
      res.end(signed);
    } catch (err) {
      const error = err instanceof OAuthError ? err : new TemporarilyUnavailable(undefined, { cause: err });
      status = error.status;
      if (status >= 500) {
        metrics.introspectionFailures.inc({ error: error.error });
        failureLog.warn({ path: '/introspect', error: error.error, cause: String((error.cause as Error)?.message ?? '') }, 'introspection failed');
      }
      const headers = error instanceof InvalidClient ? { 'www-authenticate': 'Basic realm="latch"' } : error instanceof TooManyRequests ? error.headers() : {};
      send(res, status, error.toJSON(), headers);
    } finally {
      observe(started, status);
    }
  }

  return function introspection(req, res) {
    serve(req, res).catch((err: unknown) => {
      logger.error({ err: { message: (err as Error).message } }, 'introspection endpoint crashed');
      if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: 'unexpected error' });
      else res.destroy();
    });
  };
}
