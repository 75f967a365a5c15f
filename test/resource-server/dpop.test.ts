import type { RequestListener } from 'node:http';
import { SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { ResourceServer, type ResourceServerOptions } from 'latch/resource-server';
import { dpopHandle, dpopHeaders, dpopKey, proof, type DpopKey } from '../support/dpop.js';
import { clientFor, logIn } from '../support/oauth.js';
import { ORDERS_API, RS_SECRETS, rsConfig } from '../support/rs-config.js';
import { startLatchWith, type RsTestLatch } from '../support/rs-latch.js';
import { bearer, expressTestApi, get, koaTestApi, listen, type Listening } from '../support/rs-apps.js';
import { aliceTokens } from '../support/rs-tokens.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';

let redis: TestRedis;
let latch: RsTestLatch;
/** Alice's key, and her access token bound to it (orders-web, code flow with DPoP). */
let key: DpopKey;
let token: string;
/** A plain bearer token of Alice's. */
let bearerToken: string;
const warnings: string[] = [];
const servers: ResourceServer[] = [];
const apis: Listening[] = [];

const ALGS = 'algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"';

function resourceServer(overrides: Partial<ResourceServerOptions> = {}): ResourceServer {
  const rs = new ResourceServer({
    issuer: latch.url,
    client: { clientId: 'orders-api', clientSecret: RS_SECRETS.ordersApi },
    audience: ORDERS_API,
    realm: 'orders',
    logger: { warn: (details, message) => void warnings.push(`${message} ${JSON.stringify(details)}`) },
    ...overrides,
  });
  servers.push(rs);
  return rs;
}

async function serve(listener: RequestListener): Promise<Listening> {
  const api = await listen(listener);
  apis.push(api);
  return api;
}

/** A DPoP-bound token of Alice's for the Orders API, and its key. */
async function boundToken(dpop = dpopKey()): Promise<{ key: DpopKey; token: string }> {
  const k = await dpop;
  const client = await clientFor(latch.url, 'orders-web', RS_SECRETS.ordersWeb);
  const { tokens } = await logIn(latch.url, client, { scope: 'openid orders:read orders:write', DPoP: dpopHandle(client, k) });
  return { key: k, token: tokens.access_token };
}

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatchWith(redis.url, (await rsConfig()).file);
  ({ key, token } = await boundToken());
  bearerToken = (await aliceTokens(latch.url)).access_token;
});
afterAll(async () => {
  await Promise.all(apis.map((api) => api.close()));
  await Promise.all(servers.map((rs) => rs.close()));
  await latch.close();
  await redis.close();
});

describe.each([
  ['Koa', koaTestApi],
  ['Express', expressTestApi],
] as Array<[string, (rs: ResourceServer) => RequestListener]>)('DPoP at the %s adapter (RFC 9449 §7, against a real Latch)', (_name, build) => {
  let api: Listening;
  beforeAll(async () => {
    api = await serve(build(resourceServer()));
  });

  const call = async (headers: Record<string, string | string[]>, path = '/me') => get(`${api.url}${path}`, headers);
  const refusal = (error: string, description: string) => ({
    status: 401,
    challenge: `DPoP realm="orders", error="${error}", error_description="${description}", ${ALGS}, Bearer realm="orders"`,
    json: { error, error_description: description },
  });
  const outcome = (r: Awaited<ReturnType<typeof call>>) => ({ status: r.status, challenge: r.headers['www-authenticate'], json: r.json });

  it('accepts a DPoP-bound token with a proof by its key', async () => {
    const response = await call(await dpopHeaders(key, token, 'GET', `${api.url}/me`));
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      path: '/me',
      auth: { sub: 'sub-alice', clientId: 'orders-web', scopes: ['orders:read', 'orders:write'], roles: ['viewer'], aud: [ORDERS_API], exp: expect.any(Number) },
    });
    expect(response.headers['dpop-nonce']).toBeUndefined();
  });

  it('runs the guards on a DPoP request, and answers their 403 in the DPoP challenge', async () => {
    expect((await call(await dpopHeaders(key, token, 'GET', `${api.url}/alice`), '/alice')).status).toBe(200);
    const response = await call(await dpopHeaders(key, token, 'GET', `${api.url}/admin`), '/admin');
    expect(response.status).toBe(403);
    expect(response.headers['www-authenticate']).toBe(`DPoP realm="orders", error="insufficient_scope", error_description="requires the role admin", ${ALGS}, Bearer realm="orders"`);
  });

  it('refuses the captured token replayed without the key: as a bearer token', async () => {
    const description = 'the access token is bound to a DPoP key: it cannot be used as a bearer token';
    expect(outcome(await call(bearer(token)))).toEqual({
      status: 401,
      challenge: `Bearer realm="orders", error="invalid_token", error_description="${description}", DPoP realm="orders", ${ALGS}`,
      json: { error: 'invalid_token', error_description: description },
    });
  });

  it('refuses the captured token replayed without the key: with a proof by another key', async () => {
    const thief = await dpopKey();
    expect(outcome(await call(await dpopHeaders(thief, token, 'GET', `${api.url}/me`)))).toEqual(
      refusal('invalid_token', 'the DPoP proof is signed by another key than the one the access token is bound to'),
    );
  });

  it('refuses a replayed proof', async () => {
    const headers = await dpopHeaders(key, token, 'GET', `${api.url}/me`);
    expect((await call(headers)).status).toBe(200);
    expect(outcome(await call(headers))).toEqual(refusal('invalid_dpop_proof', 'the DPoP proof was already used (its jti is spent)'));
  });

  it('refuses a proof for another URL, another method or another token', async () => {
    const other = await boundToken(Promise.resolve(key));
    const cases: Array<[Record<string, string>, string]> = [
      [await dpopHeaders(key, token, 'GET', `${api.url}/read`), 'the DPoP proof is for another URL (htu)'],
      [await dpopHeaders(key, token, 'GET', `${api.url.replace('127.0.0.1', 'localhost')}/me`), 'the DPoP proof is for another URL (htu)'],
      [await dpopHeaders(key, token, 'POST', `${api.url}/me`), 'the DPoP proof is for another HTTP method (htm)'],
      [await dpopHeaders(key, token, 'get', `${api.url}/me`), 'the DPoP proof is for another HTTP method (htm)'],
      [{ authorization: `DPoP ${token}`, dpop: await proof(key, { htm: 'GET', htu: `${api.url}/me`, token: other.token }) }, 'the DPoP proof is not for this access token (ath)'],
      [{ authorization: `DPoP ${token}`, dpop: await proof(key, { htm: 'GET', htu: `${api.url}/me` }) }, 'the DPoP proof is not for this access token (ath)'],
    ];
    for (const [headers, description] of cases) expect(outcome(await call(headers))).toEqual(refusal('invalid_dpop_proof', description));
  });

  it('compares htu as RFC 9449 §4.3 says: scheme and host case, no query or fragment, percent-encoding normalised', async () => {
    const loud = api.url.replace('http://', 'HTTP://');
    expect((await call(await dpopHeaders(key, token, 'GET', `${loud}/me?page=2#top`), '/me?page=2')).status).toBe(200);
    expect((await call(await dpopHeaders(key, token, 'GET', `${api.url}/%6De`))).status).toBe(200);
  });

  it('refuses a proof with the wrong typ, an unlisted or symmetric alg, a private or missing jwk, or a bad signature', async () => {
    const htu = `${api.url}/me`;
    const claims = { htm: 'GET', htu, token };
    const ours = await proof(key, claims);
    const [header, payload] = ours.split('.');
    const otherKey = await dpopKey();
    const forged = `${header}.${payload}.${(await proof(otherKey, claims)).split('.')[2]}`;
    const privateJwk = { ...(await import('jose').then((j) => j.exportJWK(key.privateKey))) };
    const hs256 = await new SignJWT({ jti: 'x', htm: 'GET', htu, iat: Math.floor(Date.now() / 1000) })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'c2VjcmV0' } } as never)
      .sign(new TextEncoder().encode('a-shared-secret-of-32-bytes-long!'));
    const cases: Array<[string, string]> = [
      [await proof(key, claims, { typ: 'JWT' }), "the DPoP proof's typ must be dpop+jwt"],
      [await proof(await dpopKey('ES512'), claims), 'the DPoP proof\'s alg must be one of ES256 ES384 EdDSA Ed25519 PS256 RS256'],
      [hs256, 'the DPoP proof\'s alg must be one of ES256 ES384 EdDSA Ed25519 PS256 RS256'],
      [await proof(key, claims, { jwk: privateJwk }), "the DPoP proof's jwk must be a public key (it has private key members)"],
      [await proof(key, claims, { jwk: undefined }), 'the DPoP proof has no jwk header'],
      [forged, 'the DPoP proof signature or claims are invalid'],
      ['not-a-jwt', 'the DPoP proof is not a JWT'],
    ];
    for (const [dpop, description] of cases) {
      expect(outcome(await call({ authorization: `DPoP ${token}`, dpop }))).toEqual(refusal('invalid_dpop_proof', description));
    }
  });

  it('refuses a proof without jti, too old, or from the future (iat window 60 s ± 5 s)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const htu = `${api.url}/me`;
    const window = "the DPoP proof's iat is more than 60 s old or in the future (clock skew allowed: 5 s)";
    const cases: Array<[string, string]> = [
      [await proof(key, { htm: 'GET', htu, token, extra: { jti: undefined } }), 'the DPoP proof must have a jti (a string of at most 256 characters)'],
      [await proof(key, { htm: 'GET', htu, token, iat: now - 70 }), window],
      [await proof(key, { htm: 'GET', htu, token, iat: now + 30 }), window],
    ];
    for (const [dpop, description] of cases) expect(outcome(await call({ authorization: `DPoP ${token}`, dpop }))).toEqual(refusal('invalid_dpop_proof', description));
    expect((await call({ authorization: `DPoP ${token}`, dpop: await proof(key, { htm: 'GET', htu, token, iat: now - 50 }) })).status).toBe(200);
  });

  it('refuses the DPoP scheme without exactly one proof header', async () => {
    const one = await proof(key, { htm: 'GET', htu: `${api.url}/me`, token });
    expect(outcome(await call({ authorization: `DPoP ${token}` }))).toEqual(refusal('invalid_dpop_proof', 'the request has the DPoP scheme but no DPoP proof header'));
    expect(outcome(await call({ authorization: `DPoP ${token}`, dpop: [one, one] }))).toEqual(refusal('invalid_dpop_proof', 'more than one DPoP proof header'));
  });

  it('refuses a bearer token sent with the DPoP scheme, even with a valid proof', async () => {
    expect(outcome(await call(await dpopHeaders(key, bearerToken, 'GET', `${api.url}/me`)))).toEqual(
      refusal('invalid_token', 'the access token is not bound to a DPoP key: send it with the Bearer scheme'),
    );
  });

  it('answers an inactive token sent with DPoP in the DPoP challenge', async () => {
    expect(outcome(await call(await dpopHeaders(key, 'A'.repeat(43), 'GET', `${api.url}/me`)))).toEqual(
      refusal('invalid_token', 'the access token is not active (expired, revoked or unknown)'),
    );
  });
});

describe('DPoP in the core (ResourceServer)', () => {
  it('shares one introspection between concurrent DPoP requests with one token, and checks every proof', async () => {
    const rs = resourceServer();
    const href = 'http://127.0.0.1/me';
    const proofs = await Promise.all(Array.from({ length: 10 }, () => dpopHeaders(key, token, 'GET', href)));
    const before = latch.introspections();
    const request = (headers: Record<string, string>) => rs.authenticateRequest({ authorization: headers.authorization, dpop: headers.dpop, url: '/me', method: 'GET', href });
    // Ten proofs, and the first one again: one introspection for all, and the replay refused.
    const results = await Promise.allSettled([...proofs, proofs[0]!].map(request));
    expect(latch.introspections() - before).toBe(1);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason)).toEqual([expect.objectContaining({ code: 'ERR_DPOP_PROOF_REPLAYED' })]);
  });

  it('with the cache on, checks the proof on every request and takes only the token’s answer from the cache', async () => {
    const rs = resourceServer({ cache: { maxTtlSeconds: 300, revocationEvents: false } });
    const api = await serve(koaTestApi(rs));
    const first = await dpopHeaders(key, token, 'GET', `${api.url}/me`);
    expect((await get(`${api.url}/me`, first)).status).toBe(200);
    const before = latch.introspections();
    expect((await get(`${api.url}/me`, await dpopHeaders(key, token, 'GET', `${api.url}/me`))).status).toBe(200);
    expect((await get(`${api.url}/me`, first)).status).toBe(401);
    expect((await get(`${api.url}/me`, await dpopHeaders(await dpopKey(), token, 'GET', `${api.url}/me`))).status).toBe(401);
    expect((await get(`${api.url}/me`, bearer(token))).status).toBe(401);
    expect(latch.introspections() - before).toBe(0);
  });

  it('checks htu against dpop.publicUrl (the API behind a proxy that strips /orders), not the URL it was reached at', async () => {
    const rs = resourceServer({ dpop: { publicUrl: 'https://api.example.test/orders/' }, allowInsecureHttp: false });
    const api = await serve(koaTestApi(rs));
    expect((await get(`${api.url}/me`, await dpopHeaders(key, token, 'GET', 'https://API.example.test:443/orders/me'))).status).toBe(200);
    const internal = await get(`${api.url}/me`, await dpopHeaders(key, token, 'GET', `${api.url}/me`));
    expect(internal.status).toBe(401);
    expect(internal.json).toEqual({ error: 'invalid_dpop_proof', error_description: 'the DPoP proof is for another URL (htu)' });
  });

  it('as a Bearer-only API (dpop: false): the DPoP scheme is no credentials, a bound token stays refused, and challenges name Bearer only', async () => {
    const rs = resourceServer({ dpop: false });
    const api = await serve(koaTestApi(rs));
    const asDpop = await get(`${api.url}/me`, await dpopHeaders(key, token, 'GET', `${api.url}/me`));
    expect([asDpop.status, asDpop.headers['www-authenticate'], asDpop.text]).toEqual([401, 'Bearer realm="orders"', '']);
    const asBearer = await get(`${api.url}/me`, bearer(token));
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers['www-authenticate']).toBe(
      'Bearer realm="orders", error="invalid_token", error_description="the access token is bound to a DPoP key: it cannot be used as a bearer token"',
    );
    expect((await get(`${api.url}/me`, bearer(bearerToken))).status).toBe(200);
  });

  it('keeps the jti of accepted proofs in Redis when told to, so no instance of the API accepts a proof twice', async () => {
    const replay = { redisUrl: redis.url, keyPrefix: `test-${Date.now()}:` };
    const one = await serve(koaTestApi(resourceServer({ dpop: { replay, publicUrl: 'http://127.0.0.1/api' } })));
    const two = await serve(expressTestApi(resourceServer({ dpop: { replay, publicUrl: 'http://127.0.0.1/api' } })));
    const headers = await dpopHeaders(key, token, 'GET', 'http://127.0.0.1/api/me');
    expect((await get(`${one.url}/me`, headers)).status).toBe(200);
    const again = await get(`${two.url}/me`, headers);
    expect(again.status).toBe(401);
    expect(again.json).toEqual({ error: 'invalid_dpop_proof', error_description: 'the DPoP proof was already used (its jti is spent)' });
    expect(await redis.client.keys(`${replay.keyPrefix}*`)).toHaveLength(1);
    const ttl = await redis.client.ttl((await redis.client.keys(`${replay.keyPrefix}*`))[0]!);
    expect(ttl).toBeGreaterThan(55);
    expect(ttl).toBeLessThanOrEqual(66);
  });

  it('answers 503 (fail closed) when its Redis replay store is down, and says so in its log', async () => {
    const store = await startRedis();
    const rs = resourceServer({ timeoutMs: 500, dpop: { replay: { redisUrl: store.url } } });
    const api = await serve(koaTestApi(rs));
    expect((await get(`${api.url}/me`, await dpopHeaders(key, token, 'GET', `${api.url}/me`))).status).toBe(200);
    await store.close();
    const down = await get(`${api.url}/me`, await dpopHeaders(key, token, 'GET', `${api.url}/me`));
    expect(down.status).toBe(503);
    expect(down.json).toEqual({ error: 'temporarily_unavailable', error_description: 'the authorization server could not be reached, retry later' });
    expect(warnings.at(-1)).toContain('DPoP replay check failed: answering 503');
  });
});

describe('DPoP nonces of the resource server (RFC 9449 §9)', () => {
  const SECRET = 'orders-api-dpop-nonce-secret-0123456789';

  it('asks for its nonce with 401 use_dpop_nonce and DPoP-Nonce, accepts the proof carrying it, on any instance with the secret', async () => {
    const one = await serve(koaTestApi(resourceServer({ dpop: { nonce: { secret: SECRET } } })));
    const two = await serve(expressTestApi(resourceServer({ dpop: { nonce: { secret: SECRET } } })));
    const first = await get(`${one.url}/me`, await dpopHeaders(key, token, 'GET', `${one.url}/me`));
    expect(first.status).toBe(401);
    expect(first.headers['www-authenticate']).toBe(
      `DPoP realm="orders", error="use_dpop_nonce", error_description="the DPoP proof must carry this server's nonce", ${ALGS}, Bearer realm="orders"`,
    );
    expect(first.json).toEqual({ error: 'use_dpop_nonce', error_description: "the DPoP proof must carry this server's nonce" });
    const nonce = first.headers['dpop-nonce'] as string;
    expect(nonce).toMatch(/^[\w-]{43}$/);
    const second = await get(`${two.url}/me`, await dpopHeaders(key, token, 'GET', `${two.url}/me`, { nonce }));
    expect(second.status).toBe(200);
    expect(second.headers['dpop-nonce']).toBeUndefined();
    // With a nonce, an old iat no longer matters: the nonce says the proof is fresh.
    const old = Math.floor(Date.now() / 1000) - 3600;
    expect((await get(`${one.url}/me`, await dpopHeaders(key, token, 'GET', `${one.url}/me`, { nonce, iat: old }))).status).toBe(200);
    const unknown = await get(`${one.url}/me`, await dpopHeaders(key, token, 'GET', `${one.url}/me`, { nonce: 'A'.repeat(43) }));
    expect([unknown.status, unknown.json, unknown.headers['dpop-nonce']]).toEqual([401, { error: 'use_dpop_nonce', error_description: 'the DPoP proof carries an unknown or expired nonce' }, nonce]);
  });

  it('rotates: the first secret issues, the others are still accepted, and a success hands out the current nonce', async () => {
    const before = await serve(koaTestApi(resourceServer({ dpop: { nonce: { secret: SECRET } } })));
    const nonce = (await get(`${before.url}/me`, await dpopHeaders(key, token, 'GET', `${before.url}/me`))).headers['dpop-nonce'] as string;
    const next = 'orders-api-next-dpop-nonce-secret-9876543';
    const during = await serve(koaTestApi(resourceServer({ dpop: { nonce: { secret: [next, SECRET] } } })));
    const accepted = await get(`${during.url}/me`, await dpopHeaders(key, token, 'GET', `${during.url}/me`, { nonce }));
    expect(accepted.status).toBe(200);
    const fresh = accepted.headers['dpop-nonce'] as string;
    expect(fresh).toMatch(/^[\w-]{43}$/);
    expect(fresh).not.toBe(nonce);
    const after = await serve(koaTestApi(resourceServer({ dpop: { nonce: { secret: next } } })));
    expect((await get(`${after.url}/me`, await dpopHeaders(key, token, 'GET', `${after.url}/me`, { nonce: fresh }))).status).toBe(200);
    expect((await get(`${after.url}/me`, await dpopHeaders(key, token, 'GET', `${after.url}/me`, { nonce }))).status).toBe(401);
  });

  it('works with openid-client end to end: it retries once with the nonce the API sent', async () => {
    const api = await serve(koaTestApi(resourceServer({ dpop: { nonce: { secret: SECRET } } })));
    const client = await clientFor(latch.url, 'orders-web', RS_SECRETS.ordersWeb);
    const handle = dpopHandle(client, key);
    const response = await oidc.fetchProtectedResource(client, token, new URL(`${api.url}/me`), 'GET', null, undefined, { DPoP: handle });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { auth: { sub: string } }).auth.sub).toBe('sub-alice');
  });
});

describe('DPoP options, checked at creation', () => {
  const base = () => ({ issuer: 'https://latch.example', client: { clientId: 'api', clientSecret: 's' }, audience: 'https://api.example' });
  it.each([
    [{ algorithms: ['HS256'] }, 'dpop.algorithms[0] "HS256" is not an asymmetric JWS algorithm'],
    [{ algorithms: [] }, 'dpop.algorithms must be a non-empty array of JWS algorithms'],
    [{ publicUrl: 'https://api.example/v1?x=1' }, 'dpop.publicUrl must have no query or fragment'],
    [{ publicUrl: 'http://api.example' }, 'dpop.publicUrl must use https'],
    [{ publicUrl: 'api.example' }, 'dpop.publicUrl must be an absolute http(s) URL'],
    [{ maxAgeSeconds: 0 }, 'dpop.maxAgeSeconds must be a whole number of seconds from 1 to 3600'],
    [{ clockSkewSeconds: 1.5 }, 'dpop.clockSkewSeconds must be a whole number of seconds from 0 to 300'],
    [{ replay: { redisUrl: 'http://redis' } }, 'dpop.replay.redisUrl must be a redis:// or rediss:// URL'],
    [{ replay: { redisUrl: 'redis://r', maxEntries: 5 } }, 'dpop.replay takes either maxEntries (in memory) or redisUrl (shared), not both'],
    [{ replay: { maxEntries: -1 } }, 'dpop.replay.maxEntries must be a positive integer'],
    [{ nonce: { secret: 'short' } }, 'dpop.nonce.secret must be at least 32 characters'],
    [{ nonce: { secret: ['x'.repeat(32), 'short'] } }, 'dpop.nonce.secret[1] must be at least 32 characters'],
    [{ nonces: true }, 'dpop.nonces is not an option'],
    ['yes', 'dpop must be false or an object of DPoP options'],
  ])('throws a TypeError naming the option (%#)', (dpop, message) => {
    expect(() => new ResourceServer({ ...base(), dpop } as ResourceServerOptions)).toThrow(new TypeError(message).message);
    expect(() => new ResourceServer({ ...base(), dpop } as ResourceServerOptions)).toThrow(TypeError);
  });
});

describe('what the logs hold', () => {
  it('never a token or a proof', () => {
    for (const line of warnings) {
      expect(line).not.toContain(token);
      expect(line).not.toContain(bearerToken);
      expect(line).not.toContain('eyJ');
    }
  });
});
