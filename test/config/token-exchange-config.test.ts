import { ConfigError } from '../../src/config/config-error.js';
import { parseFileConfig } from '../../src/config/load.js';

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const base = {
  resourceServers: [
    { audience: 'https://orders.test', name: 'Orders', scopes: ['orders:read', 'orders:write'] },
    { audience: 'https://history.test', name: 'History', scopes: ['orders:read'] },
  ],
  tokenExchange: { jwtAudiences: [{ audience: 'urn:internal:orders', name: 'Internal orders', scopes: ['orders:read'] }] },
  clients: [
    {
      client_id: 'gateway',
      client_secret: 'g'.repeat(32),
      grant_types: [TE],
      token_exchange: { audiences: ['urn:internal:orders', 'https://history.test'] },
    },
  ],
};
type Raw = typeof base & Record<string, unknown>;
const withGateway = (changes: Record<string, unknown>): Raw => ({ ...base, clients: [{ ...base.clients[0]!, ...changes }] }) as Raw;
const withJwtAudience = (changes: Record<string, unknown>): Raw =>
  ({ ...base, tokenExchange: { jwtAudiences: [{ ...base.tokenExchange.jwtAudiences[0]!, ...changes }] } }) as Raw;

function errorOf(raw: unknown): ConfigError {
  try {
    parseFileConfig(raw, 'latch.json');
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('token exchange config (RFC 8693)', () => {
  it('accepts a client allowed to exchange for a JWT audience and a resource server, with defaults filled', () => {
    const config = parseFileConfig(base);
    expect(config.tokenExchange.jwtAudiences).toEqual([{ audience: 'urn:internal:orders', name: 'Internal orders', scopes: ['orders:read'], claims: [], ttlSeconds: 60 }]);
    expect(config.clients[0]!.token_exchange).toEqual({ audiences: ['urn:internal:orders', 'https://history.test'] });
    expect(parseFileConfig({ ...base, tokenExchange: undefined, clients: [{ client_id: 'c', client_secret: 'c'.repeat(32), grant_types: [] }] }).tokenExchange).toEqual({ jwtAudiences: [] });
  });

  it.each([
    [withGateway({ token_exchange: undefined }), 'clients[0].token_exchange', /required for urn:ietf:params:oauth:grant-type:token-exchange/],
    [withGateway({ grant_types: ['client_credentials'] }), 'clients[0].grant_types', /must include urn:ietf:params:oauth:grant-type:token-exchange when token_exchange is set/],
    [withGateway({ token_endpoint_auth_method: 'none', client_secret: undefined }), 'clients[0].grant_types', /token exchange needs a confidential client/],
    [withGateway({ token_exchange: { audiences: ['https://nowhere.test'] } }), 'clients[0].token_exchange.audiences[0]', /no resource server or tokenExchange.jwtAudiences entry has audience "https:\/\/nowhere.test"/],
    [withGateway({ token_exchange: { audiences: [] } }), 'clients[0].token_exchange.audiences', /at least 1|>=1/],
    [withGateway({ token_exchange: { audiences: ['https://history.test'], scopes: ['orders:write'] } }), 'clients[0].token_exchange.scopes[0]', /none of the client's token_exchange audiences has scope "orders:write"/],
    [withGateway({ token_exchange: { audiences: ['https://history.test'], extra: 1 } }), 'clients[0].token_exchange', /unknown field\(s\) extra/],
    [withJwtAudience({ ttlSeconds: 301 }), 'tokenExchange.jwtAudiences[0].ttlSeconds', /must be at most 300 \(an exchanged JWT cannot be revoked/],
    [withJwtAudience({ ttlSeconds: 0 }), 'tokenExchange.jwtAudiences[0].ttlSeconds', /too small|>0/],
    [withJwtAudience({ scopes: ['payroll:read'] }), 'tokenExchange.jwtAudiences[0].scopes[0]', /no resource server has scope "payroll:read"/],
    [withJwtAudience({ audience: 'https://orders.test' }), 'tokenExchange.jwtAudiences[0].audience', /is a resource server's audience/],
    [withJwtAudience({ claims: ['password'] }), 'tokenExchange.jwtAudiences[0].claims[0]', /Invalid option/],
    [withJwtAudience({ alg: 'HS256' }), 'tokenExchange.jwtAudiences[0].alg', /Invalid option/],
    [
      { ...base, tokenExchange: { jwtAudiences: [base.tokenExchange.jwtAudiences[0], base.tokenExchange.jwtAudiences[0]] } },
      'tokenExchange.jwtAudiences[1].audience',
      /duplicate audience "urn:internal:orders"/,
    ],
  ])('names the field and the problem (%#)', (raw, field, problem) => {
    const err = errorOf(raw);
    expect(err.field).toBe(`latch.json: ${field}`);
    expect(err.message).toMatch(problem);
  });
});

describe('token exchange config against the keys Latch has', () => {
  it('refuses to start when LATCH_JWKS has no key for a JWT audience\'s alg, naming the field', async () => {
    const { startRedis } = await import('../support/redis-server.js');
    const { openRedis } = await import('../../adapters/redis/connect.js');
    const { createLatch } = await import('../../src/http/app.js');
    const { createLogger } = await import('../../src/log/logger.js');
    const { testConfig } = await import('../support/test-config.js');
    const redis = await startRedis();
    const client = await openRedis(redis.url);
    try {
      const config = await testConfig('http://127.0.0.1:1', redis.url);
      // The test keys are RS256 only.
      const file = parseFileConfig({ ...base, tokenExchange: { jwtAudiences: [{ ...base.tokenExchange.jwtAudiences[0], alg: 'ES256' }] } });
      let err: unknown;
      try {
        createLatch({ ...config, file, configFile: 'latch.json' }, client, createLogger('silent'));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).field).toBe('latch.json: tokenExchange.jwtAudiences[0].alg');
      expect((err as ConfigError).message).toMatch(/LATCH_JWKS has no signing key for ES256/);
    } finally {
      client.disconnect();
      await redis.close();
    }
  });
});
