import { parseFileConfig } from '../../src/config/load.js';
import { RATE_LIMIT_DEFAULTS } from '../../src/config/schema.js';

const base = { clients: [{ client_id: 'svc', client_secret: 's'.repeat(32), grant_types: ['client_credentials'] }] };

describe('rateLimits config', () => {
  it('defaults every field, also inside a partial section', () => {
    expect(parseFileConfig(base).rateLimits).toEqual(RATE_LIMIT_DEFAULTS);
    expect(parseFileConfig({ ...base, rateLimits: { token: { perAddress: 0 } } }).rateLimits).toEqual({
      ...RATE_LIMIT_DEFAULTS,
      token: { perClient: 3000, perAddress: 0 },
    });
  });

  it('names the bad field', () => {
    const parse = (rateLimits: unknown) => () => parseFileConfig({ ...base, rateLimits }, 'latch.json');
    expect(parse({ windowSeconds: 1, syncIntervalMs: 1000 })).toThrow(
      'latch.json: rateLimits.syncIntervalMs: must be shorter than the window (windowSeconds × 1000), or 0 to keep counts per instance',
    );
    expect(parse({ introspection: { perClient: -1 } })).toThrow(/^latch\.json: rateLimits\.introspection\.perClient: /);
    expect(parse({ token: { perclient: 5 } })).toThrow('latch.json: rateLimits.token: unknown field(s) perclient');
    expect(parse({ login: { perClient: 5 } })).toThrow('latch.json: rateLimits.login: unknown field(s) perClient');
  });
});
