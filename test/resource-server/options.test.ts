import { exportJWK, generateKeyPair } from 'jose';
import { claimCheck, createResourceServer, requireRole, requireScopes, type ResourceServerOptions } from 'latch/resource-server';

const valid: ResourceServerOptions = {
  issuer: 'https://latch.example',
  client: { clientId: 'orders-api', clientSecret: 'secret' },
  audience: 'https://orders.api.example',
};

const create = (options: unknown) => () => createResourceServer(options as ResourceServerOptions);

describe('options are checked at creation (TypeError naming the option)', () => {
  it.each([
    ['no issuer nor endpoint', { ...valid, issuer: undefined }, /one of issuer or introspectionEndpoint/],
    ['issuer not a URL', { ...valid, issuer: 'latch' }, /issuer must be an absolute URL/],
    ['plain http off loopback', { ...valid, issuer: 'http://latch.example' }, /issuer must use https/],
    ['no audience', { ...valid, audience: '' }, /audience must be a non-empty string/],
    ['realm with a quote', { ...valid, realm: 'a"b' }, /realm must be printable ASCII/],
    ['no client secret', { ...valid, client: { clientId: 'x' } }, /client.clientSecret/],
    ['unknown client method', { ...valid, client: { method: 'tls', clientId: 'x' } }, /client.method must be/],
    ['public JWK for private_key_jwt', { ...valid, client: { method: 'private_key_jwt', clientId: 'x', privateKey: { kty: 'EC', x: 'a', y: 'b', crv: 'P-256' } } }, /\*private\* JWK/],
    ['bad timeout', { ...valid, timeoutMs: 0 }, /timeoutMs must be a positive integer/],
    ['cache without TTL', { ...valid, cache: { revocationEvents: false } }, /cache.maxTtlSeconds is required/],
    ['cache without a word on events', { ...valid, cache: { maxTtlSeconds: 30 } }, /cache.revocationEvents is required/],
    ['events on a non-redis URL', { ...valid, cache: { maxTtlSeconds: 30, revocationEvents: { redisUrl: 'http://x' } } }, /redisUrl must be a redis/],
  ])('%s', (_name, options, message) => {
    expect(create(options)).toThrow(TypeError);
    expect(create(options)).toThrow(message);
  });

  it('requires issuer for private_key_jwt even with introspectionEndpoint: assertions are addressed to the issuer', async () => {
    const privateKey = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
    const options = { ...valid, issuer: undefined, introspectionEndpoint: 'https://latch.example/introspect', client: { method: 'private_key_jwt', clientId: 'x', privateKey } };
    expect(create(options)).toThrow(TypeError);
    expect(create(options)).toThrow('issuer is required with client.method "private_key_jwt": client assertions are addressed to the issuer (aud), also when introspectionEndpoint is given');
  });

  it('accepts plain http for loopback, or anywhere with allowInsecureHttp', async () => {
    for (const options of [{ ...valid, issuer: 'http://127.0.0.1:3000' }, { ...valid, issuer: 'http://latch:3000', allowInsecureHttp: true }]) {
      const rs = createResourceServer(options);
      expect(rs.realm).toBe('https://orders.api.example');
      await rs.close();
    }
  });

  it('checks guard arguments too', () => {
    expect(() => requireScopes()).toThrow(/at least one scope/);
    expect(() => requireScopes('a b')).toThrow(/not a valid scope/);
    expect(() => requireRole()).toThrow(/at least one role/);
    expect(() => claimCheck('x' as never)).toThrow(TypeError);
  });
});
