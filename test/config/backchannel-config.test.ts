import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseFileConfig } from '../../src/config/load.js';

/** Registering back-channel logout in the config file: errors name the field. */
const app = (extra: Record<string, unknown>) => ({
  clients: [
    {
      client_id: 'app',
      client_secret: 'f3b9c2d47a1e4b6c8d0f2a4c6e8b0d2f',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['https://app.example.test/callback'],
      ...extra,
    },
  ],
});

const problem = (raw: unknown) => {
  try {
    parseFileConfig(raw, 'latch.json');
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
};

describe('backchannel_logout_uri in the config', () => {
  it('accepts an https URI with a query, with or without backchannel_logout_session_required', () => {
    const config = parseFileConfig(app({ backchannel_logout_uri: 'https://app.example.test/logout?tenant=a', backchannel_logout_session_required: true }));
    expect(config.clients[0]).toMatchObject({ backchannel_logout_uri: 'https://app.example.test/logout?tenant=a', backchannel_logout_session_required: true });
    expect(config.backchannelLogout).toEqual({ tokenLifetimeSeconds: 120, maxAttempts: 16, initialBackoffMs: 1000, maxBackoffMs: 600_000, visibilityTimeoutMs: 60_000, pollIntervalMs: 1000, concurrency: 16 });
  });

  it.each([
    [{ backchannel_logout_uri: 'not a uri' }, 'latch.json: clients[0].backchannel_logout_uri: must be an absolute URI'],
    [{ backchannel_logout_uri: 'ftp://app.example.test/logout' }, 'latch.json: clients[0].backchannel_logout_uri: must be an http or https URI'],
    [{ backchannel_logout_uri: 'https://app.example.test/logout#x' }, 'latch.json: clients[0].backchannel_logout_uri: must not include a fragment (OIDC Back-Channel Logout 1.0 §2.2)'],
    [{ backchannel_logout_session_required: true }, 'latch.json: clients[0].backchannel_logout_session_required: needs backchannel_logout_uri'],
  ])('refuses %j', (extra, message) => {
    expect(problem(app(extra))).toBe(message);
  });

  it('refuses it on a client no user signs in to', () => {
    const machine = { clients: [{ client_id: 'svc', client_secret: 'f3b9c2d47a1e4b6c8d0f2a4c6e8b0d2f', grant_types: ['client_credentials'], backchannel_logout_uri: 'https://svc.example.test/logout' }] };
    expect(problem(machine)).toBe('latch.json: clients[0].backchannel_logout_uri: back-channel logout is for clients users sign in to (authorization_code)');
  });

  it('refuses a visibility timeout a running delivery could outlast, and a backoff cap below its start', () => {
    expect(problem({ ...app({}), outbound: { timeoutMs: 5000 }, backchannelLogout: { visibilityTimeoutMs: 5000 } })).toBe(
      'latch.json: backchannelLogout.visibilityTimeoutMs: must be longer than outbound.timeoutMs (a delivery still running would be taken over)',
    );
    expect(problem({ ...app({}), backchannelLogout: { initialBackoffMs: 5000, maxBackoffMs: 1000 } })).toBe('latch.json: backchannelLogout.maxBackoffMs: must be at least initialBackoffMs');
    expect(problem({ ...app({}), backchannelLogout: { tokenLifetimeSeconds: 300 } })).toMatch(/^latch\.json: backchannelLogout\.tokenLifetimeSeconds: /);
  });
});

describe('back-channel logout in production', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latch-bcl-'));
  const production = (config: unknown) => {
    const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, JSON.stringify(config));
    return {
      NODE_ENV: 'production',
      ISSUER: 'https://id.example.test',
      LATCH_CONFIG: path,
      LATCH_JWKS: JSON.stringify({ keys: [{ kty: 'oct', k: 'x', d: 'x' }] }),
      LATCH_COOKIE_KEYS: 'c0ffee0123456789abcdef0123456789abcdef01',
      LATCH_TOKEN_HASH_KEY: 'beef0123456789abcdef0123456789abcdef0123',
      LATCH_DPOP_NONCE_SECRET: 'd0e5ce0123456789abcdef0123456789abcdef01',
    };
  };

  it('refuses an http back-channel URI that leaves the machine, naming the field', async () => {
    const env = production(app({ backchannel_logout_uri: 'http://app.example.test/logout' }));
    await expect(loadConfig(env)).rejects.toThrow(/: clients\[0\]\.backchannel_logout_uri: must be https when NODE_ENV=production \(http only for a loopback host\)$/);
  });

  it.each(['http://localhost:3001/logout', 'http://127.0.0.1:3001/logout', 'http://[::1]:3001/logout', 'https://app.example.test/logout'])('accepts %s', async (uri) => {
    await expect(loadConfig(production(app({ backchannel_logout_uri: uri })))).resolves.toMatchObject({ production: true });
  });
});
