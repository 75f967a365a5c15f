import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { InvalidClient, InvalidRequest, OAuthError, TemporarilyUnavailable } from '../errors/oauth-error.js';
import { BodyTooLarge, readBody } from '../http/request-body.js';
import type { LatchMetrics } from '../http/metrics.js';
import type { Logger } from '../log/logger.js';
import { WarningThrottle } from '../log/warning-throttle.js';
import type { RateLimits } from '../rate-limit/rate-limits.js';
import { TooManyRequests } from '../rate-limit/too-many-requests.js';
import type { ClientAuthenticator, ClientParams } from './client-authenticator.js';
import type { Introspector } from './introspect.js';
import type { JwtResponder } from './jwt-response.js';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

const BODY_LIMIT = 56 * 1024;
const FORM = 'application/x-www-form-urlencoded';
const JWT_TYPE = 'application/token-introspection+jwt';
/** Every parameter this endpoint reads: each may appear once (RFC 6749 §3.1). */
const PARAMS = ['token', 'token_type_hint', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type'] as const;
type Params = Partial<Record<(typeof PARAMS)[number], string>>;
const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
const CHALLENGE = { 'www-authenticate': 'Basic realm="latch"' };

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { ...HEADERS, ...extra, 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

/** The media type of a Content-Type header, lower-cased (RFC 9110 §8.3.1: case-insensitive), without parameters. */
function mediaType(header: string | undefined): string {
  const semicolon = header?.indexOf(';') ?? -1;
  return (semicolon < 0 ? (header ?? '') : header!.slice(0, semicolon)).trim().toLowerCase();
}

/**
 * Whether the caller asks for a signed answer (RFC 9701 §4): `application/token-introspection+jwt`
 * in Accept with a non-zero weight, at least as preferred as JSON.
 */
export function wantsJwt(accept: string | undefined): boolean {
  if (!accept?.toLowerCase().includes(JWT_TYPE)) return false;
  let jwt = 0;
  let json = 0;
  for (const range of accept.toLowerCase().split(',')) {
    const [type, ...parameters] = range.split(';').map((part) => part.trim());
    const q = parameters.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (type === JWT_TYPE) jwt = Math.max(jwt, Number.isFinite(weight) ? weight : 0);
    else if (type === 'application/json') json = Math.max(json, Number.isFinite(weight) ? weight : 0);
  }
  return jwt > 0 && jwt >= json;
}

/** The form's parameters; a repeated one is an `invalid_request` naming it (RFC 6749 §3.1). */
function readParams(raw: Buffer): Params {
  const parsed = parseQuery(raw.toString('utf8'));
  const params: Params = {};
  for (const name of PARAMS) {
    const value = parsed[name];
    if (Array.isArray(value)) throw new InvalidRequest(`parameter '${name}' must not be provided twice (RFC 6749 §3.1)`);
    if (value !== undefined) params[name] = value;
  }
  return params;
}

export interface JwtResponses {
  responder: JwtResponder;
  /** client_id → introspection_signed_response_alg, for clients that registered one (config or managed). */
  algs: { get(clientId: string): string | undefined };
  /** For callers that registered none: RS256 (RFC 9701 §6), unless Latch has no RSA key. */
  defaultAlg: string | undefined;
}

/**
 * `POST /introspect` (RFC 7662), served without Koa, for every request the route gate resolves to
 * it: parse the form, authenticate the client by any method Latch advertises, one Redis round trip,
 * write JSON, or a signed JWT (RFC 9701) when asked. Rate limits (per address, then per
 * authenticated client) are checked in memory: they add no Redis command here. Nothing is handed to
 * a second implementation: every answer comes from `Introspector`.
 */
export function introspectionEndpoint(
  introspector: Introspector,
  authenticator: ClientAuthenticator,
  jwt: JwtResponses,
  logger: Logger,
  metrics: LatchMetrics,
  limits: RateLimits,
): Listener {
  const failureLog = new WarningThrottle(logger);

  function observe(started: bigint, status: number): void {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    metrics.observe('/introspect', 'POST', status, ms / 1000);
    if (logger.isLevelEnabled('debug')) logger.debug({ method: 'POST', path: '/introspect', status, ms }, 'request');
  }

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<number> {
    // RFC 7662 §2.1: the request is a form post. Media types are case-insensitive (RFC 9110 §8.3.1).
    if (mediaType(req.headers['content-type']) !== FORM) {
      throw new InvalidRequest(`the request body must be ${FORM} (RFC 7662 §2.1)`);
    }
    let raw: Buffer;
    try {
      raw = await readBody(req, BODY_LIMIT);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        res.setHeader('connection', 'close');
        throw new InvalidRequest('failed to parse the request body');
      }
      throw err;
    }
    const params = readParams(raw);
    const { clientId: callerId } = await authenticator.authenticate(req.headers.authorization, params as ClientParams);
    // Only now, authenticated: naming a client does not spend its budget.
    const overBudget = limits.admitClient('introspection', callerId);
    if (overBudget) throw overBudget;
    const { token } = params;
    if (!token) throw new InvalidRequest("missing required parameter 'token'");
    // Latch issues opaque tokens only: a JWT-looking value is looked up like any other (and unknown).
    const result = await introspector.introspect(callerId, token, params.token_type_hint ?? null);
    metrics.introspections.inc({ result: result.active ? 'active' : 'inactive' });
    // RFC 9701 §5: signed with the caller's registered alg; "the default, if omitted, is RS256" (§6).
    const alg = wantsJwt(req.headers.accept) ? (jwt.algs.get(callerId) ?? jwt.defaultAlg) : undefined;
    if (!alg) {
      send(res, 200, result);
      return 200;
    }
    const signed = await jwt.responder.sign(result, callerId, alg);
    res.writeHead(200, { ...HEADERS, 'content-type': `${JWT_TYPE}; charset=utf-8`, 'content-length': Buffer.byteLength(signed) });
    res.end(signed);
    return 200;
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let status = 200;
    try {
      const refusal = limits.admitAddress('introspection', limits.addressOf(req));
      if (refusal) throw refusal;
      status = await answer(req, res);
    } catch (err) {
      const error = err instanceof OAuthError ? err : new TemporarilyUnavailable(undefined, { cause: err });
      status = error.status;
      if (status >= 500) {
        metrics.introspectionFailures.inc({ error: error.error });
        failureLog.warn({ path: '/introspect', error: error.error, cause: String((error.cause as Error)?.message ?? '') }, 'introspection failed');
      }
      // RFC 6749 §5.2: a 401 invalid_client carries a challenge for the scheme the client can use.
      const headers = error instanceof InvalidClient ? CHALLENGE : error instanceof TooManyRequests ? error.headers() : {};
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
