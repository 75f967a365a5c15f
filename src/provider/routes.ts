/**
 * Every route Latch answers, by name, each with its one canonical path. oidc-provider's router folds
 * the case of static segments and ignores one trailing slash (`/TOKEN`, `/token/` reach its token
 * route); Latch's safeguards (rate limits, error remaps, revocation events, metrics) must not be
 * keyed on a path a variant slips past. So the request path is resolved here once, the way that
 * router resolves it, to a route name, and a variant that is not byte for byte the canonical path
 * is answered 404 before anything else sees it (src/http/canonical-route.ts).
 */

/** The paths of oidc-provider's routes, as configured (`routes` in configuration.ts). */
export const ENDPOINT_PATHS = {
  authorization: '/auth',
  token: '/token',
  userinfo: '/me',
  jwks: '/jwks',
  end_session: '/session/end',
  revocation: '/revoke',
  introspection: '/introspect',
  pushed_authorization_request: '/request',
  registration: '/reg',
} as const;

export type RouteName =
  | 'authorization'
  | 'resume'
  | 'token'
  | 'userinfo'
  | 'jwks'
  | 'discovery'
  | 'end_session'
  | 'end_session_confirm'
  | 'end_session_success'
  | 'revocation'
  | 'introspection'
  | 'pushed_authorization_request'
  | 'registration'
  | 'client_registration'
  | 'admin'
  | 'account'
  | 'interaction'
  | 'ssf'
  | 'ssf_configuration'
  | 'healthz'
  | 'readyz'
  | 'metrics'
  | 'assets';

export interface ResolvedRoute {
  name: RouteName;
  /** The canonical path (for a route with a parameter, its pattern, e.g. `/auth/:uid`). */
  path: string;
  /** Whether the request path is the canonical path byte for byte. */
  exact: boolean;
  /** The metrics label of the route (a small fixed set). */
  label: string;
}

interface Entry {
  name: RouteName;
  path: string;
  label: string;
  /** Upper-cased static segments; null for a `:param` segment. */
  folded: Array<string | null>;
}

/**
 * The routes oidc-provider registers for the features Latch enables (lib/helpers/initialize_app.js),
 * plus `/introspect`, which Latch's own handler serves. Its `introspection` feature is off.
 */
const PROVIDER_ROUTES: Array<[RouteName, string, string]> = [
  ['authorization', ENDPOINT_PATHS.authorization, '/auth'],
  ['resume', `${ENDPOINT_PATHS.authorization}/:uid`, '/auth'],
  ['token', ENDPOINT_PATHS.token, '/token'],
  ['userinfo', ENDPOINT_PATHS.userinfo, '/me'],
  ['jwks', ENDPOINT_PATHS.jwks, '/jwks'],
  ['discovery', '/.well-known/openid-configuration', '/.well-known'],
  ['discovery', '/.well-known/oauth-authorization-server', '/.well-known'],
  ['end_session', ENDPOINT_PATHS.end_session, '/session'],
  ['end_session_confirm', `${ENDPOINT_PATHS.end_session}/confirm`, '/session'],
  ['end_session_success', `${ENDPOINT_PATHS.end_session}/success`, '/session'],
  ['revocation', ENDPOINT_PATHS.revocation, '/revoke'],
  ['introspection', ENDPOINT_PATHS.introspection, '/introspect'],
  ['pushed_authorization_request', ENDPOINT_PATHS.pushed_authorization_request, '/request'],
  // RFC 7591 registration and RFC 7592 management (when registration.enabled).
  ['registration', ENDPOINT_PATHS.registration, '/reg'],
  ['client_registration', `${ENDPOINT_PATHS.registration}/:clientId`, '/reg'],
];

/**
 * Latch's own routes match exactly already (their handlers compare paths case-sensitively), so a
 * variant of them reaches no route at all; they are named here for the safeguards and metrics.
 */
const OWN_PREFIXES: Array<[RouteName, string]> = [
  ['admin', '/admin'],
  ['account', '/account'],
  ['interaction', '/interaction'],
  // The Shared Signals management API and poll endpoints (src/ssf/ssf-routes.ts).
  ['ssf', '/ssf'],
];
const OWN_EXACT = new Map<string, RouteName>([
  ['/healthz', 'healthz'],
  ['/readyz', 'readyz'],
  ['/metrics', 'metrics'],
  ['/assets/latch.css', 'assets'],
  // SSF §7.2 Transmitter Configuration Metadata.
  ['/.well-known/ssf-configuration', 'ssf_configuration'],
]);

/**
 * oidc-provider's case folding (lib/helpers/router.js `fold`) upper-cases, but never lets a
 * non-ASCII character fold into an ASCII one; every canonical path is ASCII, so folding ASCII
 * letters decides exactly the same matches.
 */
function fold(value: string): string {
  return value.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

const ENTRIES: Entry[] = PROVIDER_ROUTES.map(([name, path, label]) => ({
  name,
  path,
  label,
  folded: path.split('/').map((segment) => (segment.startsWith(':') ? null : fold(segment))),
}));

function lookup(path: string): { entry: Entry; exact: boolean } | undefined {
  const parts = path.split('/');
  const folded = fold(path).split('/');
  for (const entry of ENTRIES) {
    if (entry.folded.length !== parts.length) continue;
    let exact = true;
    let matched = true;
    const segments = entry.path.split('/');
    for (let i = 0; i < parts.length; i++) {
      const want = entry.folded[i];
      if (want === null) {
        if (!parts[i]) matched = false;
      } else if (want !== folded[i]) {
        matched = false;
      } else if (segments[i] !== parts[i]) {
        exact = false;
      }
      if (!matched) break;
    }
    if (matched) return { entry, exact };
  }
  return undefined;
}

/**
 * Paths already resolved (most requests go to a handful of paths). Bounded: paths are the
 * client's to choose (`/auth/<uid>` is a new one per login), so it starts over when full.
 */
const resolved = new Map<string, ResolvedRoute | undefined>();
const MAX_RESOLVED = 1024;

/**
 * The route a request path (Koa's `ctx.path`: no query, not decoded) reaches, or undefined. Like
 * oidc-provider's router: the path as it is first, then without one trailing slash. The answer is
 * frozen: it is shared by every request of that path.
 */
export function resolveRoute(path: string): ResolvedRoute | undefined {
  const known = resolved.get(path);
  if (known !== undefined || resolved.has(path)) return known;
  if (resolved.size >= MAX_RESOLVED) resolved.clear();
  const route = resolveUncached(path);
  resolved.set(path, route && Object.freeze(route));
  return route;
}

function resolveUncached(path: string): ResolvedRoute | undefined {
  const own = OWN_EXACT.get(path);
  if (own) return { name: own, path, exact: true, label: path };
  for (const [name, prefix] of OWN_PREFIXES) {
    if (path === prefix || path.startsWith(`${prefix}/`)) return { name, path: prefix, exact: true, label: prefix };
  }
  let found = lookup(path);
  let slash = false;
  if (!found && path.length > 1 && path.endsWith('/')) {
    found = lookup(path.slice(0, -1));
    slash = true;
  }
  if (!found) return undefined;
  const { entry, exact } = found;
  return { name: entry.name, path: entry.path, exact: exact && !slash, label: entry.label };
}

/** The route name the gate put on a Koa request (`ctx.state.route`): what every safeguard keys on. */
export function routeName(ctx: { state: Record<string, unknown> }): RouteName | undefined {
  return (ctx.state.route as ResolvedRoute | undefined)?.name;
}

/** The metrics label of the gate's route of a Koa request ('other' for none). */
export function routeLabel(ctx: { state: Record<string, unknown> }): string {
  return (ctx.state.route as ResolvedRoute | undefined)?.label ?? 'other';
}
