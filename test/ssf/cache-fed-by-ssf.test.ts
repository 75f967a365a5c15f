import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { ResourceServer } from 'latch/resource-server';
import { parseFileConfig } from '../../src/config/load.js';
import { adminCall, adminToken } from '../support/admin.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { pathAccounts, REVOCATION_PATHS, type PathContext } from '../support/revocation-paths.js';
import { bearer, expressTestApi, get, koaTestApi, listen, type Listening } from '../support/rs-apps.js';
import { ORDERS_API, RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { serviceToken } from '../support/rs-tokens.js';
import { SSF_API, ssfCall, until } from '../support/ssf.js';

/**
 * latch/resource-server's cache fed by a Shared Signals stream instead of Latch's Redis: one
 * resource server with a push stream (Koa), one with a poll stream (Express), both caching
 * active answers for up to 300 s. Every kind of revocation makes both refuse the cached token
 * as soon as the SET has arrived (no TTL, no Redis); and while a stream is not known healthy the
 * cache is bypassed.
 */
let redis: TestRedis;
let latch: TestLatch;
let admin: string;
let ctx: PathContext;

interface Api {
  rs: ResourceServer;
  http: Listening;
  name: string;
}
let push: Api;
let poll: Api;

const HEARTBEAT_MS = 300;
const MAX_LAG_MS = 2000;

/** An HTTP front that forwards to `target` while open and answers 503 while shut (a delivery path that fails). */
async function gate(target: () => string) {
  const state = { open: true };
  const front = await listen((req: IncomingMessage, res: ServerResponse) => {
    if (!state.open) {
      req.resume();
      return res.writeHead(503).end();
    }
    const url = new URL(req.url!, target());
    const forward = httpRequest(url, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  return { ...front, state };
}

/** A resource server whose cache is fed by an SSF stream, serving the test routes on its own port. */
async function cachedApi(delivery: 'push' | 'poll', options: { endpoint?: (api: Listening) => string; framework?: 'koa' | 'express'; maxLagMs?: number } = {}): Promise<Api> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const http = await listen((req, res) => handler(req, res));
  const rs = new ResourceServer({
    issuer: latch.url,
    client: { clientId: 'orders-api', clientSecret: RS_SECRETS.ordersApi },
    audience: ORDERS_API,
    cache: {
      maxTtlSeconds: 300,
      revocationEvents: {
        ssf: { delivery, endpointUrl: delivery === 'push' ? (options.endpoint?.(http) ?? `${http.url}/ssf-events`) : undefined, heartbeatMs: HEARTBEAT_MS, maxLagMs: options.maxLagMs ?? MAX_LAG_MS },
      },
    },
    logger: { warn: () => {} },
  });
  handler = (options.framework ?? (delivery === 'push' ? 'koa' : 'express')) === 'koa' ? koaTestApi(rs) : expressTestApi(rs);
  return { rs, http, name: delivery };
}

beforeAll(async () => {
  redis = await startRedis();
  const base = (await rsConfig()).file;
  const file = parseFileConfig({
    ...base,
    ssf: { ...base.ssf, minVerificationIntervalSeconds: 0, retryBaseMs: 50, retryMaxMs: 200 },
    outbound: { ...base.outbound, timeoutMs: 1000 },
    scopes: { ...base.scopes, 'ssf.manage': 'Manage event streams' },
    resourceServers: [...base.resourceServers, { audience: SSF_API, name: 'Shared Signals', scopes: ['ssf.manage'] }],
    // The Orders API's own client owns its streams (client credentials for urn:latch:ssf).
    clients: base.clients.map((c) => (c.client_id === 'orders-api' ? { ...c, grant_types: ['client_credentials'], scope: 'ssf.manage', resources: [SSF_API] } : c)),
    accounts: [...base.accounts, ...pathAccounts(['ssf'])],
  });
  latch = await startLatch(redis.url, { file });
  admin = await adminToken(latch.url);
  ctx = { latch, redis, admin };
  [push, poll] = await Promise.all([cachedApi('push'), cachedApi('poll')]);
  await Promise.all([push.rs.ready(), poll.rs.ready()]);
});
afterAll(async () => {
  for (const api of [push, poll]) {
    await api?.rs.close();
    await api?.http.close();
  }
  await latch?.close();
  await redis?.close();
});

/** Asks the API once (Latch answers active) and once more (the cache answers: Latch is not asked). */
async function cached(api: Api, token: string): Promise<void> {
  expect((await get(`${api.http.url}/me`, bearer(token))).status).toBe(200);
  const asked = latch.introspections();
  expect((await get(`${api.http.url}/me`, bearer(token))).status).toBe(200);
  expect(latch.introspections()).toBe(asked);
}

const INACTIVE = { error: 'invalid_token', error_description: 'the access token is not active (expired, revoked or unknown)' };

/** The API refuses the token once the SET is in: within seconds, though its cached answer had minutes to live. */
async function denied(api: Api, token: string): Promise<void> {
  let last = await get(`${api.http.url}/me`, bearer(token));
  for (const deadline = Date.now() + 5000; last.status === 200 && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 20));
    last = await get(`${api.http.url}/me`, bearer(token));
  }
  expect({ api: api.name, status: last.status, json: last.json }).toEqual({ api: api.name, status: 401, json: INACTIVE });
}

describe.each(REVOCATION_PATHS.map((p) => [p.name, p] as const))('%s', (_name, path) => {
  it('a cached answer is refused by the push-fed and the poll-fed resource server once the SET arrives', async () => {
    const { token, revoke } = await path.prepare(ctx, 'ssf');
    await cached(push, token);
    await cached(poll, token);
    await revoke();
    await Promise.all([denied(push, token), denied(poll, token)]);
  });
});

describe('role changes', () => {
  it('token-claims-change: the cached scope gives way to the new roles (both event sources)', async () => {
    const username = 'revuser-ssf-roles';
    // An account of its own: a role change is not a revocation, so the token stays active.
    await latch.accounts.create({ sub: `sub-${username}`, username, password: `${username}-pw-1`, roles: ['viewer'] });
    const { clientFor, logIn } = await import('../support/oauth.js');
    const client = await clientFor(latch.url, 'orders-web', RS_SECRETS.ordersWeb);
    const { tokens } = await logIn(latch.url, client, { scope: 'openid orders:read', username, password: `${username}-pw-1` });
    for (const api of [push, poll]) await cached(api, tokens.access_token);
    const asked = latch.introspections();
    const { status } = await adminCall(latch.url, 'PUT', `/admin/accounts/${username}/roles`, admin, { roles: ['editor'], reason: 'promoted' });
    expect(status).toBe(200);
    for (const api of [push, poll]) {
      await until(async () => ((await get(`${api.http.url}/me`, bearer(tokens.access_token))).json as { auth: { roles: string[] } }).auth.roles[0] === 'editor', 5000, `${api.name} sees the new role`);
    }
    expect(latch.introspections()).toBeGreaterThan(asked);
  });
});

describe('the cache is bypassed while the stream is not known healthy', () => {
  it('before the first verification came back: every request is introspected', async () => {
    // Latch cannot reach this one's push endpoint (nothing listens there): never verified.
    const unverified = await cachedApi('push', { endpoint: () => 'http://127.0.0.1:9/ssf-events' });
    try {
      const token = await serviceToken(latch.url);
      const asked = latch.introspections();
      for (let i = 0; i < 3; i++) expect((await get(`${unverified.http.url}/me`, bearer(token))).status).toBe(200);
      expect(latch.introspections()).toBe(asked + 3);
      expect(unverified.rs.cache!.live).toBe(false);
    } finally {
      await unverified.rs.close();
      await unverified.http.close();
    }
  });

  it('push: when deliveries fail for longer than maxLagMs the cache is bypassed; when they work again it is used again', async () => {
    const holder: { api?: Api } = {};
    const front = await gate(() => holder.api!.http.url);
    const api = (holder.api = await cachedApi('push', { endpoint: () => `${front.url}/ssf-events` }));
    try {
      await api.rs.ready();
      const token = await serviceToken(latch.url);
      await cached(api, token);
      front.state.open = false;
      await until(() => !api.rs.cache!.live, MAX_LAG_MS + 3000, 'the cache bypassed');
      const asked = latch.introspections();
      expect((await get(`${api.http.url}/me`, bearer(token))).status).toBe(200);
      expect((await get(`${api.http.url}/me`, bearer(token))).status).toBe(200);
      expect(latch.introspections()).toBe(asked + 2);
      front.state.open = true;
      await until(() => api.rs.cache!.live, 5000, 'the cache live again');
      await cached(api, token);
    } finally {
      await api.rs.close();
      await api.http.close();
      await front.close();
    }
  });

  it('poll: while Latch cannot be reached the cached token is not served from the cache (503, fail closed)', async () => {
    const api = await cachedApi('poll');
    try {
      await api.rs.ready();
      const token = await serviceToken(latch.url);
      await cached(api, token);
      await latch.stop();
      await until(() => !api.rs.cache!.live, MAX_LAG_MS + 3000, 'the cache bypassed');
      expect((await get(`${api.http.url}/me`, bearer(token))).status).toBe(503);
      await latch.start();
      await until(() => api.rs.cache!.live, 10_000, 'the cache live again');
      await cached(api, token);
    } finally {
      if (!(await fetch(`${latch.url}/healthz`).then(() => true, () => false))) await latch.start();
      await api.rs.close();
      await api.http.close();
    }
  });

  it('a stream Latch disabled for lag: bypassed, re-enabled by the resource server, verified, and used again', async () => {
    const holder: { api?: Api } = {};
    const front = await gate(() => holder.api!.http.url);
    const api = (holder.api = await cachedApi('push', { endpoint: () => `${front.url}/ssf-events`, maxLagMs: 60_000 }));
    // A second Latch on the same Redis whose streams hold 3 SETs: it publishes the backlog.
    const bounded = await startLatch(redis.url, { config: { ...latch.config, file: { ...latch.config.file, ssf: { ...latch.config.file.ssf, maxQueue: 3 } } } });
    try {
      await api.rs.ready();
      const [streamId] = (((await ssfCall(latch.url, 'GET', '/ssf/streams', await ordersApiToken())).json as Array<{ stream_id: string; delivery: { endpoint_url: string } }>)
        .filter((s) => s.delivery.endpoint_url === `${front.url}/ssf-events`)).map((s) => s.stream_id);
      front.state.open = false;
      for (let i = 0; i < 5; i++) await bounded.revocations.revokeAccount('sub-bob', { actor: 'test', reason: `backlog ${i}` });
      const token = await ordersApiToken();
      expect((await ssfCall(latch.url, 'GET', `/ssf/status?stream_id=${streamId}`, token)).json).toMatchObject({ status: 'disabled' });
      expect(api.rs.cache!.live).toBe(true);
      front.state.open = true;
      // The backlog, then the stream-updated notice: bypassed, re-enabled, verified again.
      await until(async () => ((await ssfCall(latch.url, 'GET', `/ssf/status?stream_id=${streamId}`, token)).json as { status: string }).status === 'enabled', 10_000, 'the stream enabled again');
      await until(() => api.rs.cache!.live, 10_000, 'the cache live again');
      const service = await serviceToken(latch.url);
      await cached(api, service);
    } finally {
      await bounded.close();
      await api.rs.close();
      await api.http.close();
      await front.close();
    }
  });
});

async function ordersApiToken(): Promise<string> {
  const { postForm } = await import('../support/oauth.js');
  const { json } = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', resource: SSF_API, scope: 'ssf.manage' }, ['orders-api', RS_SECRETS.ordersApi]);
  return json!.access_token as string;
}
