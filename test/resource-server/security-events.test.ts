import type { IncomingMessage, ServerResponse } from 'node:http';
import { generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { ResourceServer } from 'latch/resource-server';
import { parseFileConfig } from '../../src/config/load.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { expressTestApi, koaTestApi, listen, type Listening } from '../support/rs-apps.js';
import { ORDERS_API, RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { SSF_API, until } from '../support/ssf.js';

/**
 * The push endpoint the Koa and Express adapters mount (`securityEvents`): what it accepts and
 * how it refuses (RFC 8935 §2.2, §2.3), and the options that set up an SSF-fed cache.
 */
let redis: TestRedis;
let latch: TestLatch;

const base = { issuer: 'http://127.0.0.1:1', client: { clientId: 'orders-api', clientSecret: RS_SECRETS.ordersApi }, audience: ORDERS_API };

describe('options', () => {
  it.each([
    [{ ssf: { delivery: 'push' } }, 'cache.revocationEvents.ssf.endpointUrl is required for push: the URL at which Latch reaches this process\'s securityEvents endpoint'],
    [{ ssf: { delivery: 'carrier pigeon' } }, 'cache.revocationEvents.ssf.delivery must be "push" or "poll"'],
    [{ ssf: { delivery: 'poll', heartbeatMs: 5000, maxLagMs: 5000 } }, 'cache.revocationEvents.ssf.maxLagMs must be longer than heartbeatMs (a heartbeat must come back within the bound)'],
    [{ ssf: { delivery: 'push', endpointUrl: 'http://api.example/ssf' } }, 'cache.revocationEvents.ssf.endpointUrl must use https (plain http is allowed for loopback hosts, or with allowInsecureHttp)'],
  ])('%j is a TypeError naming the option', (revocationEvents, message) => {
    expect(() => new ResourceServer({ ...base, cache: { maxTtlSeconds: 60, revocationEvents: revocationEvents as never } })).toThrow(new TypeError(message));
  });

  it('needs the issuer (the stream is set up from its /.well-known/ssf-configuration)', () => {
    const { issuer: _issuer, ...noIssuer } = base;
    expect(() => new ResourceServer({ ...noIssuer, introspectionEndpoint: 'http://127.0.0.1:1/introspect', cache: { maxTtlSeconds: 60, revocationEvents: { ssf: { delivery: 'poll' } } } })).toThrow(
      new TypeError("issuer is required with cache.revocationEvents.ssf: the stream is set up from Latch's /.well-known/ssf-configuration"),
    );
  });
});

describe('the securityEvents endpoint', () => {
  let koa: { rs: ResourceServer; http: Listening };
  let express: { rs: ResourceServer; http: Listening };
  let latchKey: JWK;

  async function api(framework: 'koa' | 'express') {
    let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
    const http = await listen((req, res) => handler(req, res));
    const rs = new ResourceServer({
      ...base,
      issuer: latch.url,
      cache: { maxTtlSeconds: 60, revocationEvents: { ssf: { delivery: 'push', endpointUrl: `${http.url}/events/latch`, heartbeatMs: 300, maxLagMs: 2000 } } },
      logger: { warn: () => {} },
    });
    handler = framework === 'koa' ? koaTestApi(rs) : expressTestApi(rs);
    return { rs, http };
  }

  beforeAll(async () => {
    redis = await startRedis();
    const file = (await rsConfig()).file;
    latch = await startLatch(redis.url, {
      file: parseFileConfig({
        ...file,
        ssf: { ...file.ssf, minVerificationIntervalSeconds: 0, retryBaseMs: 50, retryMaxMs: 200 },
        scopes: { ...file.scopes, 'ssf.manage': 'Manage event streams' },
        resourceServers: [...file.resourceServers, { audience: SSF_API, name: 'Shared Signals', scopes: ['ssf.manage'] }],
        clients: file.clients.map((c) => (c.client_id === 'orders-api' ? { ...c, grant_types: ['client_credentials'], scope: 'ssf.manage', resources: [SSF_API] } : c)),
      }),
    });
    latchKey = latch.config.secrets.jwks.keys[0] as JWK;
    [koa, express] = await Promise.all([api('koa'), api('express')]);
    await Promise.all([koa.rs.ready(), express.rs.ready()]);
  });
  afterAll(async () => {
    for (const a of [koa, express]) {
      await a?.rs.close();
      await a?.http.close();
    }
    await latch?.close();
    await redis?.close();
  });

  /** A SET as Latch would sign it, with `changes` to its claims or header. */
  async function forged(changes: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key: JWK = latchKey) {
    const claims = {
      iss: latch.url, aud: 'orders-api', iat: Math.floor(Date.now() / 1000), jti: `forged-${Math.random()}`,
      sub_id: { format: 'iss_sub', iss: latch.url, sub: 'sub-alice' },
      events: { 'https://schemas.openid.net/secevent/caep/event-type/session-revoked': {} },
      ...changes,
    };
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'secevent+jwt', kid: key.kid, ...header }).sign(await importJWK(key, 'RS256'));
  }

  const push = (url: string, body: string, headers: Record<string, string>) => fetch(url, { method: 'POST', headers, body });

  it.each(['koa', 'express'] as const)('%s: refuses a push without the authorization the stream registered (401 authentication_failed)', async (framework) => {
    const target = framework === 'koa' ? koa : express;
    const response = await push(`${target.http.url}/events/latch`, await forged(), { 'content-type': 'application/secevent+jwt', authorization: 'Bearer guessed' });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ err: 'authentication_failed', description: 'this endpoint takes SETs from Latch only' });
  });

  it('only answers POST at its path; other paths go on to the API', async () => {
    const other = await fetch(`${koa.http.url}/events/latch`, { method: 'GET' });
    expect(other.status).toBe(405);
    expect(other.headers.get('allow')).toBe('POST');
    expect((await fetch(`${koa.http.url}/me`)).status).toBe(401);
  });

  it('deletes a stream a previous life of this source left behind (same host, pid and ordinal), and no other', async () => {
    const { postForm } = await import('../support/oauth.js');
    const { ssfCall } = await import('../support/ssf.js');
    const { json } = await postForm(`${latch.url}/token`, { grant_type: 'client_credentials', resource: SSF_API, scope: 'ssf.manage' }, ['orders-api', RS_SECRETS.ordersApi]);
    const token = json!.access_token as string;
    const streams = async () => (await ssfCall(latch.url, 'GET', '/ssf/streams', token)).json as Array<{ stream_id: string; description: string }>;
    const ordinal = Math.max(...(await streams()).map((s) => Number(/#(\d+)\)$/.exec(s.description)?.[1] ?? 0)));
    const [host] = (await streams())[0]!.description.match(/\(.* pid \d+/)!;
    const leftBehind = (await ssfCall(latch.url, 'POST', '/ssf/streams', token, { description: `latch/resource-server introspection cache ${host} #${ordinal + 1})` })).json as { stream_id: string };
    const unrelated = (await ssfCall(latch.url, 'POST', '/ssf/streams', token, { description: `latch/resource-server introspection cache ${host} #${ordinal + 50})` })).json as { stream_id: string };
    const next = new ResourceServer({ ...base, issuer: latch.url, cache: { maxTtlSeconds: 60, revocationEvents: { ssf: { delivery: 'poll', heartbeatMs: 300, maxLagMs: 2000 } } }, logger: { warn: () => {} } });
    try {
      await next.ready();
      const ids = (await streams()).map((s) => s.stream_id);
      expect(ids).not.toContain(leftBehind.stream_id);
      expect(ids).toContain(unrelated.stream_id);
    } finally {
      await next.close();
    }
  });

  it('Latch\'s pushes are accepted: the stream is verified through the endpoint (the cache is live)', async () => {
    expect(koa.rs.cache!.live).toBe(true);
    expect(express.rs.cache!.live).toBe(true);
  });

  describe('a push with the right authorization', () => {
    /**
     * The secret a resource server registers with its stream never leaves it but in Latch's
     * pushes: a recorder in front of a resource server (`spy`) catches one, then SETs are handed
     * to that resource server's endpoint logic directly.
     */
    let authorization: string;
    let spy: ResourceServer;
    beforeAll(async () => {
      const seen: string[] = [];
      const recorder = await listen((req, res) => {
        seen.push(String(req.headers.authorization));
        res.writeHead(202).end();
        req.resume();
      });
      spy = new ResourceServer({
        ...base, issuer: latch.url,
        cache: { maxTtlSeconds: 60, revocationEvents: { ssf: { delivery: 'push', endpointUrl: `${recorder.url}/x`, heartbeatMs: 300, maxLagMs: 2000 } } },
        logger: { warn: () => {} },
      });
      await until(() => seen.length > 0, 10_000, 'a push to the recorder');
      authorization = seen[0]!;
      await recorder.close();
    });

    const answer = async (body: string, contentType = 'application/secevent+jwt') => {
      const result = await spy.receiveSecurityEvent({ authorization, contentType, body });
      return { status: result.status, body: result.body ? JSON.parse(result.body) : '' };
    };

    it('accepts a valid SET (202) and acknowledges a replayed jti without applying it twice', async () => {
      const set = await forged();
      expect(await answer(set)).toEqual({ status: 202, body: '' });
      expect(await answer(set)).toEqual({ status: 202, body: '' });
    });

    it.each([
      ['a SET with exp', { exp: Math.floor(Date.now() / 1000) + 60 }, {}, { err: 'invalid_request', description: 'a SET carries neither exp nor sub (SSF §4.1)' }],
      ['a SET with sub', { sub: 'sub-alice' }, {}, { err: 'invalid_request', description: 'a SET carries neither exp nor sub (SSF §4.1)' }],
      ['two events', { events: { a: {}, b: {} } }, {}, { err: 'invalid_request', description: 'a SET carries exactly one event (SSF §4.2.1)' }],
      ['no sub_id', { sub_id: undefined }, {}, { err: 'invalid_request', description: 'a SET needs a sub_id (SSF §3.1)' }],
      ['another audience', { aud: 'someone-else' }, {}, { err: 'invalid_audience', description: 'the SET is not for this receiver' }],
      ['another issuer', { iss: 'https://evil.example' }, {}, { err: 'invalid_issuer', description: 'the SET is not from this receiver\'s issuer' }],
      ['a JWT that is not a SET (typ)', {}, { typ: 'JWT' }, { err: 'invalid_request', description: 'the SET\'s typ claim is not acceptable' }],
    ])('refuses %s (400 with the RFC 8935 error)', async (_what, changes, header, expected) => {
      expect(await answer(await forged(changes, header))).toEqual({ status: 400, body: expected });
    });

    it('refuses a SET signed with a key that is not Latch\'s (400 invalid_key)', async () => {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      const { exportJWK } = await import('jose');
      const other = { ...(await exportJWK(privateKey)), kid: latchKey.kid };
      expect(await answer(await forged({}, {}, other as JWK))).toEqual({ status: 400, body: { err: 'invalid_key', description: 'the SET\'s signature does not verify with the issuer\'s keys' } });
    });

    it('refuses another content type (400 invalid_request)', async () => {
      expect(await answer(await forged(), 'application/json')).toEqual({ status: 400, body: { err: 'invalid_request', description: 'expected an application/secevent+jwt body (RFC 8935 §2)' } });
    });

    afterAll(() => spy.close());
  });
});
