import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { ConfigError } from '../../src/config/config-error.js';
import { loadConfig, parseFileConfig, readFileConfig } from '../../src/config/load.js';
import { describeTarget, parseRedisTarget } from '../../src/config/redis-target.js';

const dir = mkdtempSync(join(tmpdir(), 'latch-config-'));
const minimal = {
  clients: [{ client_id: 'svc', client_secret: 's'.repeat(32), grant_types: ['client_credentials'], resources: ['https://api.test'] }],
  resourceServers: [{ audience: 'https://api.test', name: 'API', scopes: ['read'] }],
};

function fileWith(content: unknown): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config file validation', () => {
  it('accepts the shipped demo config', () => {
    expect(readFileConfig('config/demo.json').clients.length).toBeGreaterThan(0);
  });

  it('accepts a client resource no configured API has when it is a URI (an API registered at run time may have it)', () => {
    const config = parseFileConfig({ ...minimal, clients: [{ ...minimal.clients[0], resources: ['https://api.test', 'https://later.test'] }] });
    expect(config.clients[0]!.resources).toEqual(['https://api.test', 'https://later.test']);
  });

  it('fills defaults', () => {
    const config = parseFileConfig(minimal);
    expect(config.ttl.refreshToken).toBe(14 * 24 * 3600);
    expect(config.resourceServers[0]!.accessTokenTTL).toBe(600);
    expect(config.clients[0]!.token_endpoint_auth_method).toBe('client_secret_basic');
  });

  it.each([
    [{ ...minimal, clients: [{ ...minimal.clients[0], client_secret: 'short' }] }, 'clients[0].client_secret', /at least 32/],
    [{ ...minimal, clients: [{ ...minimal.clients[0], client_secret: undefined }] }, 'clients[0].client_secret', /required for client_secret_basic/],
    [{ ...minimal, clients: [{ ...minimal.clients[0], resources: ['nope'] }] }, 'clients[0].resources[0]', /no resource server has audience "nope" \(and it is not an absolute URI/],
    [{ ...minimal, clients: [{ ...minimal.clients[0], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] } }] }, 'clients[0].client_secret', /must not be set for private_key_jwt/],
    [{ ...minimal, clients: [{ ...minimal.clients[0], token_endpoint_auth_method: 'none', grant_types: [] }] }, 'clients[0].client_secret', /must not be set for none/],
    [{ ...minimal, clients: [{ ...minimal.clients[0], grant_types: ['password'] }] }, 'clients[0].grant_types[0]', /Invalid option/],
    [{ ...minimal, resourceServers: [{ ...minimal.resourceServers[0], audience: 'not a url' }] }, 'resourceServers[0].audience', /absolute URI/],
    [{ ...minimal, resourceServers: [{ ...minimal.resourceServers[0], introspectors: ['ghost'] }] }, 'resourceServers[0].introspectors[0]', /no client/],
    [{ ...minimal, accounts: [{ username: 'a', password: 'short' }] }, 'accounts[0].password', /at least 8/],
    [{ ...minimal, surprise: true }, '(root)', /unknown field\(s\) surprise/],
    [{ resourceServers: [] }, 'clients', /expected array/],
    [{ ...minimal, clients: [{ ...minimal.clients[0], dpop_bound_access_tokens: 'yes' }] }, 'clients[0].dpop_bound_access_tokens', /expected boolean/],
    [{ ...minimal, dpop: { requireNonce: 'never' } }, 'dpop.requireNonce', /Invalid option: expected one of "public"\|"all"/],
  ])('names the field and the problem (%#)', (raw, field, problem) => {
    const err = errorOf(() => parseFileConfig(raw, 'demo.json'));
    expect(err.field).toBe(`demo.json: ${field}`);
    expect(err.message).toMatch(problem);
  });

  it('reports unreadable and malformed files', () => {
    expect(errorOf(() => readFileConfig(join(dir, 'missing.json'))).message).toMatch(/LATCH_CONFIG: cannot read .*ENOENT/);
    expect(errorOf(() => readFileConfig(fileWith('{ not json'))).message).toMatch(/LATCH_CONFIG: .* is not valid JSON/);
  });
});

describe('environment and keys', () => {
  const base = () => ({ LATCH_CONFIG: fileWith(minimal), LATCH_DEV_KEYS_FILE: join(dir, `keys-${Math.random()}.json`) });

  it('uses the documented defaults', async () => {
    const config = await loadConfig(base());
    expect(config).toMatchObject({ port: 3000, issuer: 'http://localhost:3000', redis: { kind: 'single', url: 'redis://127.0.0.1:6379' }, production: false });
    expect(config.secrets.generated).toBe(true);
  });

  it('keeps generated development keys across restarts', async () => {
    const env = base();
    const first = await loadConfig(env);
    const second = await loadConfig(env);
    expect(second.secrets.tokenHashKey.equals(first.secrets.tokenHashKey)).toBe(true);
    expect(second.secrets.jwks).toEqual(first.secrets.jwks);
  });

  it('refuses to start in production without its own keys, naming them', async () => {
    await expect(loadConfig({ ...base(), NODE_ENV: 'production', ISSUER: 'https://id.example' })).rejects.toThrow(
      'LATCH_JWKS, LATCH_COOKIE_KEYS, LATCH_TOKEN_HASH_KEY, LATCH_DPOP_NONCE_SECRET: required when NODE_ENV=production',
    );
  });

  it('generates a DPoP nonce secret into the development keys file, and adds one to a file written before DPoP', async () => {
    const env = base();
    const first = await loadConfig(env);
    expect(first.secrets.dpopNonceSecret).toHaveLength(32);
    expect((await loadConfig(env)).secrets.dpopNonceSecret.equals(first.secrets.dpopNonceSecret)).toBe(true);
    const { dpopNonceSecret: _dropped, ...older } = JSON.parse(readFileSync(env.LATCH_DEV_KEYS_FILE, 'utf8')) as Record<string, unknown>;
    writeFileSync(env.LATCH_DEV_KEYS_FILE, JSON.stringify(older));
    const upgraded = await loadConfig(env);
    expect(upgraded.secrets.dpopNonceSecret).toHaveLength(32);
    expect(upgraded.secrets.tokenHashKey.equals(first.secrets.tokenHashKey)).toBe(true);
    expect((await loadConfig(env)).secrets.dpopNonceSecret.equals(upgraded.secrets.dpopNonceSecret)).toBe(true);
    expect(statSync(env.LATCH_DEV_KEYS_FILE).mode & 0o777).toBe(0o600);
  });

  it('hashes LATCH_DPOP_NONCE_SECRET to the 32 bytes oidc-provider takes, the same on every instance', async () => {
    const secret = 'n'.repeat(40);
    const one = await loadConfig({ ...base(), LATCH_DPOP_NONCE_SECRET: secret });
    const other = await loadConfig({ ...base(), LATCH_DPOP_NONCE_SECRET: secret });
    expect(one.secrets.dpopNonceSecret).toEqual(createHash('sha256').update(secret).digest());
    expect(other.secrets.dpopNonceSecret.equals(one.secrets.dpopNonceSecret)).toBe(true);
  });

  it('refuses a plain-http issuer in production', async () => {
    await expect(loadConfig({ ...base(), NODE_ENV: 'production' })).rejects.toThrow(/^ISSUER: must be https/);
  });

  it('validates each key variable', async () => {
    await expect(loadConfig({ ...base(), LATCH_JWKS: '{"keys":[{"kty":"RSA","n":"x","e":"AQAB"}]}' })).rejects.toThrow(
      'LATCH_JWKS.keys[0]: must be a private key',
    );
    await expect(loadConfig({ ...base(), LATCH_COOKIE_KEYS: 'short' })).rejects.toThrow('LATCH_COOKIE_KEYS[0]: must be at least 32');
    await expect(loadConfig({ ...base(), LATCH_TOKEN_HASH_KEY: 'short' })).rejects.toThrow('LATCH_TOKEN_HASH_KEY: must be at least 32');
    await expect(loadConfig({ ...base(), LATCH_DPOP_NONCE_SECRET: 'short' })).rejects.toThrow('LATCH_DPOP_NONCE_SECRET: must be at least 32');
    await expect(loadConfig({ ...base(), PORT: 'eighty' })).rejects.toThrow('PORT: must be a port number');
    await expect(loadConfig({ ...base(), REDIS_URL: 'http://x' })).rejects.toThrow('REDIS_URL: must use redis: or rediss:');
  });
});

describe('the development Redis and LATCH_WORKERS', () => {
  const base = () => ({ LATCH_CONFIG: fileWith(minimal), LATCH_DEV_KEYS_FILE: join(dir, `keys-${Math.random()}.json`) });
  const productionKeys = async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    return {
      NODE_ENV: 'production',
      ISSUER: 'https://id.example',
      LATCH_JWKS: JSON.stringify({ keys: [{ ...(await exportJWK(privateKey)), kid: 'k' }] }),
      LATCH_COOKIE_KEYS: 'c'.repeat(32),
      LATCH_TOKEN_HASH_KEY: 't'.repeat(32),
      LATCH_DPOP_NONCE_SECRET: 'n'.repeat(32),
    };
  };

  it('in development without a Redis variable, looks at 127.0.0.1:6379 first and keeps its own Redis in .latch/redis', async () => {
    const config = await loadConfig(base());
    expect(config.redis).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379' });
    expect(config.devRedis).toEqual({ probe: { host: '127.0.0.1', port: 6379 }, dir: resolve('.latch/redis') });
    const probed = await loadConfig({ ...base(), LATCH_DEV_REDIS_PROBE: '127.0.0.1:7777' });
    expect(probed.redis).toEqual({ kind: 'single', url: 'redis://127.0.0.1:7777' });
    expect(probed.devRedis?.probe).toEqual({ host: '127.0.0.1', port: 7777 });
  });

  it('never starts a Redis in production, or when REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS names one', async () => {
    const production = await loadConfig({ ...base(), ...(await productionKeys()), LATCH_DEV_REDIS_PROBE: '127.0.0.1:7777' });
    expect(production.devRedis).toBeUndefined();
    expect(production.redis).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379' });
    for (const named of [{ REDIS_URL: 'redis://cache:6379' }, { REDIS_CLUSTER_NODES: 'r1:7000' }, { REDIS_SENTINELS: 's1:26379' }]) {
      expect((await loadConfig({ ...base(), ...named })).devRedis).toBeUndefined();
    }
  });

  it('still checks the credential variables when it may start its own Redis', async () => {
    await expect(loadConfig({ ...base(), REDIS_PASSWORD: 'pw' })).rejects.toThrow(/^REDIS_PASSWORD: applies to REDIS_CLUSTER_NODES/);
    await expect(loadConfig({ ...base(), LATCH_DEV_REDIS_PROBE: 'nowhere' })).rejects.toThrow('LATCH_DEV_REDIS_PROBE: "nowhere" is not host:port');
    await expect(loadConfig({ ...base(), LATCH_DEV_REDIS_PROBE: 'a:1,b:2' })).rejects.toThrow('LATCH_DEV_REDIS_PROBE: must be one host:port');
  });

  it('runs one process in development and one worker per CPU in production unless LATCH_WORKERS says otherwise', async () => {
    expect((await loadConfig(base())).workers).toBe(1);
    expect((await loadConfig({ ...base(), ...(await productionKeys()) })).workers).toBe(availableParallelism());
    expect((await loadConfig({ ...base(), LATCH_WORKERS: '4' })).workers).toBe(4);
    expect((await loadConfig({ ...base(), ...(await productionKeys()), LATCH_WORKERS: '1' })).workers).toBe(1);
  });

  it.each(['0', 'two', '1.5', '-1', '2000'])('names LATCH_WORKERS when it is not a number of workers (%s)', async (raw) => {
    await expect(loadConfig({ ...base(), LATCH_WORKERS: raw })).rejects.toThrow(`LATCH_WORKERS: must be a whole number of worker processes from 1 to 1024, got "${raw}"`);
  });
});

describe('Redis topology (redis-target.ts)', () => {
  it('reads one server from REDIS_URL, a cluster from REDIS_CLUSTER_NODES, a Sentinel master from REDIS_SENTINELS', () => {
    expect(parseRedisTarget({ REDIS_URL: 'rediss://u:p@cache:6380' })).toEqual({ kind: 'single', url: 'rediss://u:p@cache:6380' });
    expect(parseRedisTarget({ REDIS_CLUSTER_NODES: 'r1:7000, r2:7001,[::1]:7002', REDIS_PASSWORD: 'pw', REDIS_TLS: 'true' })).toEqual({
      kind: 'cluster',
      nodes: [{ host: 'r1', port: 7000 }, { host: 'r2', port: 7001 }, { host: '::1', port: 7002 }],
      password: 'pw',
      tls: true,
    });
    expect(parseRedisTarget({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'latch', REDIS_SENTINEL_PASSWORD: 'spw' })).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }],
      name: 'latch',
      sentinelPassword: 'spw',
    });
    expect(parseRedisTarget({ REDIS_SENTINELS: 's1:26379' })).toMatchObject({ name: 'mymaster' });
  });

  it.each([
    [{ REDIS_CLUSTER_NODES: 'r1' }, 'REDIS_CLUSTER_NODES', /"r1" is not host:port/],
    [{ REDIS_CLUSTER_NODES: 'r1:99999' }, 'REDIS_CLUSTER_NODES', /not host:port/],
    [{ REDIS_CLUSTER_NODES: ' , ' }, 'REDIS_CLUSTER_NODES', /at least one/],
    [{ REDIS_URL: 'redis://a:1', REDIS_SENTINELS: 's:1' }, 'REDIS_SENTINELS', /only one of REDIS_URL, REDIS_SENTINELS/],
    [{ REDIS_URL: 'http://a:1' }, 'REDIS_URL', /redis: or rediss:/],
    [{ REDIS_PASSWORD: 'pw' }, 'REDIS_PASSWORD', /put credentials in REDIS_URL/],
    [{ REDIS_CLUSTER_NODES: 'r1:1', REDIS_TLS: 'yes' }, 'REDIS_TLS', /true or false/],
  ])('names the variable and the problem (%#)', (env, field, problem) => {
    const err = errorOf(() => parseRedisTarget(env));
    expect(err.field).toBe(field);
    expect(err.message).toMatch(problem);
  });

  it('describes a target for logs without its credentials', () => {
    expect(describeTarget({ kind: 'single', url: 'redis://user:secret@cache:6379' })).toBe('cache:6379');
    expect(describeTarget(parseRedisTarget({ REDIS_CLUSTER_NODES: 'r1:7000,r2:7001', REDIS_PASSWORD: 'secret' }))).toBe('cluster r1:7000,r2:7001');
  });
});
