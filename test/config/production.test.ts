import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEMO_SECRETS } from '../../src/config/demo-secrets.js';
import { loadConfig } from '../../src/config/load.js';
import { configWarnings } from '../../src/config/warnings.js';

const dir = mkdtempSync(join(tmpdir(), 'latch-production-'));
const ownSecret = 'f3b9c2d47a1e4b6c8d0f2a4c6e8b0d2f';
const own = {
  resourceServers: [{ audience: 'https://api.test', name: 'API', scopes: ['read'] }],
  clients: [{ client_id: 'svc', client_secret: ownSecret, grant_types: ['client_credentials'], resources: ['https://api.test'] }],
  accounts: [{ username: 'carol', password: 'a-password-of-carols-own' }],
};

function fileWith(content: unknown): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

/** Everything production needs, keys included, with `config` as LATCH_CONFIG. */
const production = (config: unknown, extra: Record<string, string> = {}) => ({
  NODE_ENV: 'production',
  ISSUER: 'https://id.example.test',
  LATCH_CONFIG: fileWith(config),
  LATCH_JWKS: JSON.stringify({ keys: [{ kty: 'oct', k: 'x', d: 'x' }] }),
  LATCH_COOKIE_KEYS: 'c0ffee0123456789abcdef0123456789abcdef01',
  LATCH_TOKEN_HASH_KEY: 'beef0123456789abcdef0123456789abcdef0123',
  LATCH_DPOP_NONCE_SECRET: 'd0e5ce0123456789abcdef0123456789abcdef01',
  ...extra,
});

const demo = JSON.parse(readFileSync('config/demo.json', 'utf8')) as {
  clients: Array<{ client_id: string; client_secret?: string }>;
  accounts: Array<{ username: string; password: string }>;
};

describe('production refuses what is only for demos', () => {
  it('starts in production on a config of its own', async () => {
    const config = await loadConfig(production(own));
    expect(config.production).toBe(true);
    expect(config.file.clients[0]!.client_secret).toBe(ownSecret);
  });

  it('requires LATCH_CONFIG in production instead of falling back to the demo config', async () => {
    const env: Record<string, string> = production(own);
    delete env.LATCH_CONFIG;
    await expect(loadConfig(env)).rejects.toThrow(/^LATCH_CONFIG: required when NODE_ENV=production/);
  });

  it('refuses the shipped demo config in production, naming the first demo secret', async () => {
    const env = { ...production(own), LATCH_CONFIG: 'config/demo.json' };
    await expect(loadConfig(env)).rejects.toThrow(
      `${resolve('config/demo.json')}: clients[0].client_secret: is a published demo value (config/demo.json); set a secret of your own (client "demo-web")`,
    );
  });

  it('refuses every secret and password of config/demo.json, wherever it is copied', async () => {
    const published = [...demo.clients.flatMap((c) => (c.client_secret ? [c.client_secret] : [])), ...demo.accounts.map((a) => a.password)];
    expect(published.length).toBeGreaterThan(0);
    expect(published.filter((value) => !DEMO_SECRETS.has(value))).toEqual([]);
    for (const password of demo.accounts.map((a) => a.password)) {
      const env = production({ ...own, accounts: [own.accounts[0], { username: 'dave', password }] });
      await expect(loadConfig(env)).rejects.toThrow(/: accounts\[1\]\.password: is a published demo value .*\(account "dave"\)$/);
    }
    for (const secret of demo.clients.flatMap((c) => (c.client_secret ? [c.client_secret] : []))) {
      const env = production({ ...own, clients: [{ ...own.clients[0], client_secret: secret }] });
      await expect(loadConfig(env)).rejects.toThrow(/: clients\[0\]\.client_secret: is a published demo value/);
    }
  });

  it('refuses any secret, password or key containing change-me in production', async () => {
    const placeholder = 'my-secret-change-me-please-0123456789';
    await expect(loadConfig(production({ ...own, clients: [{ ...own.clients[0], client_secret: placeholder }] }))).rejects.toThrow(
      /clients\[0\]\.client_secret: contains "change-me"/,
    );
    await expect(loadConfig(production({ ...own, accounts: [{ username: 'erin', password: 'Change-Me-now' }] }))).rejects.toThrow(/accounts\[0\]\.password: contains "change-me"/);
    await expect(loadConfig(production(own, { LATCH_COOKIE_KEYS: `c0ffee0123456789abcdef0123456789abcdef01,${placeholder}` }))).rejects.toThrow(
      /^LATCH_COOKIE_KEYS\[1\]: contains "change-me"/,
    );
    await expect(loadConfig(production(own, { LATCH_TOKEN_HASH_KEY: placeholder }))).rejects.toThrow(/^LATCH_TOKEN_HASH_KEY: contains "change-me"/);
    await expect(loadConfig(production(own, { LATCH_DPOP_NONCE_SECRET: placeholder }))).rejects.toThrow(/^LATCH_DPOP_NONCE_SECRET: contains "change-me"/);
  });

  it('keeps the demo config working in development', async () => {
    const config = await loadConfig({ LATCH_DEV_KEYS_FILE: join(dir, 'dev-keys.json') });
    expect(config.file.accounts.map((a) => a.username)).toEqual(['alice', 'bob']);
  });
});

describe('start-up warnings', () => {
  it('warns, without refusing, about client secrets that clients sending raw Basic credentials mangle', async () => {
    const config = await loadConfig({
      LATCH_CONFIG: fileWith({ ...own, clients: [{ ...own.clients[0], client_secret: 'abc+def/ghi=jkl%20mno:0123456789abcdef' }] }),
      LATCH_DEV_KEYS_FILE: join(dir, 'dev-keys.json'),
    });
    expect(configWarnings(config)).toEqual([
      {
        field: 'clients[0].client_secret',
        message: expect.stringMatching(/^the secret of client "svc" contains "\+" "\/" "=" "%" ":": clients that put the raw secret into the Basic header .* Use a base64url or hex secret/),
      },
    ]);
    // The warning names the characters, never the secret.
    expect(JSON.stringify(configWarnings(config))).not.toContain('abc+def');
  });

  it('warns that a client resource no configured API has gets tokens only while such an API is registered at run time', async () => {
    const config = await loadConfig({
      LATCH_CONFIG: fileWith({ ...own, clients: [{ ...own.clients[0], resources: ['https://api.test', 'https://later.test'] }] }),
      LATCH_DEV_KEYS_FILE: join(dir, 'dev-keys.json'),
    });
    expect(configWarnings(config)).toEqual([
      {
        field: 'clients[0].resources[1]',
        message: 'no resource server in the config has audience "https://later.test": client "svc" gets tokens for it only while an API with that audience is registered through the admin API (/admin/apis)',
      },
    ]);
  });

  it('has nothing to say about the demo config, base64url and hex secrets', async () => {
    const config = await loadConfig({ LATCH_DEV_KEYS_FILE: join(dir, 'dev-keys.json') });
    expect(configWarnings(config)).toEqual([]);
  });

  it('warns when a production https issuer trusts no proxy (Latch serves no TLS itself)', async () => {
    const config = await loadConfig(production(own));
    expect(configWarnings(config).map((w) => w.field)).toEqual(['LATCH_TRUSTED_PROXIES']);
    expect(configWarnings(await loadConfig(production(own, { LATCH_TRUSTED_PROXIES: '1' })))).toEqual([]);
  });
});
