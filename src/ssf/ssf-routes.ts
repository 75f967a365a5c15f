import type { Context, Next } from 'koa';
import { OAuthError } from '../errors/oauth-error.js';
import type { Introspector } from '../introspection/introspect.js';
import { POLL, PUSH } from './event-types.js';
import { managementHandlers, StreamConflict, StreamNotFound, TooSoon, type ManagementDependencies } from './management.js';
import { pollHandler, type PollDependencies } from './poll-endpoint.js';
import { authenticateReceiver, ReceiverAuthError, type Receiver } from './receiver-auth.js';

export const SSF_CONFIGURATION_PATH = '/.well-known/ssf-configuration';

/** Paths of the transmitter's endpoints (SSF §7.1), under the issuer. */
export const SSF_PATHS = {
  configuration: '/ssf/streams',
  status: '/ssf/status',
  addSubject: '/ssf/subjects/add',
  removeSubject: '/ssf/subjects/remove',
  verification: '/ssf/verify',
  poll: '/ssf/poll',
} as const;

/** SSF §7.1 Transmitter Configuration Metadata. */
export function transmitterMetadata(issuer: string, defaultSubjects: 'ALL' | 'NONE'): Record<string, unknown> {
  return {
    spec_version: '1_0',
    issuer,
    jwks_uri: `${issuer}/jwks`,
    delivery_methods_supported: [PUSH, POLL],
    configuration_endpoint: `${issuer}${SSF_PATHS.configuration}`,
    status_endpoint: `${issuer}${SSF_PATHS.status}`,
    add_subject_endpoint: `${issuer}${SSF_PATHS.addSubject}`,
    remove_subject_endpoint: `${issuer}${SSF_PATHS.removeSubject}`,
    verification_endpoint: `${issuer}${SSF_PATHS.verification}`,
    authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6749' }],
    default_subjects: defaultSubjects,
  };
}

type Handler = (ctx: Context, receiver: Receiver) => Promise<void>;

export interface SsfRouteDependencies extends ManagementDependencies, PollDependencies {
  introspector: Introspector;
  issuer: string;
}

/**
 * The Shared Signals transmitter's HTTP face: its metadata, the SSF §8 management API and the
 * RFC 8936 poll endpoint of each poll stream. Every call is a receiver's (receiver-auth.ts);
 * errors are RFC 6750 challenges (401/403), `invalid_request` (400), 404 for a stream the
 * receiver does not have, 409 past the stream limit, 429 for a verification too soon.
 */
export function ssfRoutes(deps: SsfRouteDependencies) {
  const handlers = managementHandlers(deps);
  const poll = pollHandler(deps);
  const metadata = transmitterMetadata(deps.issuer, deps.config.defaultSubjects);

  const routes: Record<string, Partial<Record<string, { access: 'read' | 'manage'; handler: Handler }>>> = {
    [SSF_PATHS.configuration]: {
      GET: { access: 'read', handler: handlers.readStream },
      POST: { access: 'manage', handler: handlers.createStream },
      PATCH: { access: 'manage', handler: handlers.updateStream },
      PUT: { access: 'manage', handler: handlers.updateStream },
      DELETE: { access: 'manage', handler: handlers.deleteStream },
    },
    [SSF_PATHS.status]: {
      GET: { access: 'read', handler: handlers.readStatus },
      POST: { access: 'manage', handler: handlers.updateStatus },
    },
    [SSF_PATHS.addSubject]: { POST: { access: 'manage', handler: handlers.addSubject } },
    [SSF_PATHS.removeSubject]: { POST: { access: 'manage', handler: handlers.removeSubject } },
    [SSF_PATHS.verification]: { POST: { access: 'manage', handler: handlers.verify } },
  };

  async function pollStream(ctx: Context, receiver: Receiver) {
    const id = ctx.path.slice(SSF_PATHS.poll.length + 1);
    const stream = await deps.streams.get(id);
    if (!stream || stream.clientId !== receiver.clientId) throw new StreamNotFound(id);
    if (stream.method !== 'poll') throw new OAuthError(400, 'invalid_request', 'this stream uses push delivery (RFC 8935): nothing to poll');
    await deps.streams.touch(stream.id);
    await poll(ctx, receiver, stream);
  }

  return async function sharedSignals(ctx: Context, next: Next) {
    if (ctx.path === SSF_CONFIGURATION_PATH) {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return methodNotAllowed(ctx, ['GET']);
      ctx.set('cache-control', 'public, max-age=300');
      ctx.body = metadata;
      return;
    }
    if (!ctx.path.startsWith('/ssf/')) return next();
    ctx.set('cache-control', 'no-store');
    const isPoll = ctx.path.startsWith(`${SSF_PATHS.poll}/`) && /^[A-Za-z0-9_-]{1,64}$/.test(ctx.path.slice(SSF_PATHS.poll.length + 1));
    const methods = isPoll ? { POST: { access: 'manage' as const, handler: pollStream } } : routes[ctx.path];
    try {
      if (!methods) {
        ctx.status = 404;
        ctx.body = { error: 'not_found', error_description: `no shared signals endpoint here (see ${SSF_CONFIGURATION_PATH})` };
        return;
      }
      const route = methods[ctx.method];
      if (!route) return methodNotAllowed(ctx, Object.keys(methods));
      const receiver = await authenticateReceiver(ctx, deps.introspector, route.access);
      await route.handler(ctx, receiver);
    } catch (err) {
      if (err instanceof ReceiverAuthError) {
        ctx.set('www-authenticate', err.challenge);
        ctx.status = err.status;
        // RFC 6750 §3.1: a request without credentials gets no error code.
        ctx.body = err.challenge.includes('error=') ? err.toJSON() : { error_description: err.error_description };
        return;
      }
      if (err instanceof StreamNotFound || err instanceof StreamConflict) {
        ctx.status = err.status;
        ctx.body = { error: err.status === 404 ? 'not_found' : 'conflict', error_description: err.message };
        return;
      }
      if (err instanceof TooSoon) ctx.set('retry-after', String(err.retryAfterSeconds));
      // 5xx (Redis down: 503) go on to the app's error handler, which logs them.
      if (err instanceof OAuthError && err.status < 500) {
        ctx.status = err.status;
        ctx.body = err.toJSON();
        return;
      }
      throw err;
    }
  };
}

function methodNotAllowed(ctx: Context, methods: string[]): void {
  ctx.status = 405;
  ctx.set('allow', methods.join(', '));
  ctx.body = { error: 'invalid_request', error_description: `use ${methods.join(' or ')}` };
}
