import { IntrospectionCache, parseEvent, tokenHash, type AuthInfo, type RevocationEvent } from 'latch/resource-server';

const auth = (sub: string | undefined, clientId: string, exp = Math.floor(Date.now() / 1000) + 600): AuthInfo => ({
  sub,
  clientId,
  scopes: [],
  roles: [],
  aud: ['https://orders.api.test'],
  exp,
  claims: { active: true, sub, client_id: clientId, exp },
});

/** A cache holding alice@web (token a1), alice@other (a2), bob@web (b1) and svc (s1). */
function filled(): IntrospectionCache {
  const cache = new IntrospectionCache({ maxTtlSeconds: 300, maxEntries: 100, live: true });
  cache.set(tokenHash('a1'), auth('sub-alice', 'web'), cache.generation);
  cache.set(tokenHash('a2'), auth('sub-alice', 'other'), cache.generation);
  cache.set(tokenHash('b1'), auth('sub-bob', 'web'), cache.generation);
  cache.set(tokenHash('s1'), auth(undefined, 'svc'), cache.generation);
  return cache;
}

const survivors = (event: Partial<RevocationEvent> | 'unknown') => {
  const cache = filled();
  cache.apply(event === 'unknown' ? event : ({ v: 1, type: 'revocation', ...event } as RevocationEvent));
  return ['a1', 'a2', 'b1', 's1'].filter((t) => cache.get(tokenHash(t)));
};

describe('applying revocation events to the cache (docs/events.md)', () => {
  it.each([
    ['token', { scope: 'token', token_sha256: tokenHash('a2') }, ['a1', 'b1', 's1']],
    ['grant', { scope: 'grant', sub: 'sub-alice', client_id: 'web' }, ['a2', 'b1', 's1']],
    ['session', { scope: 'session', sub: 'sub-alice', client_id: 'web', session_id: 's_1' }, ['a2', 'b1', 's1']],
    ['session without client_id', { scope: 'session', sub: 'sub-alice' }, ['b1', 's1']],
    ['account-client', { scope: 'account-client', sub: 'sub-bob', client_id: 'web' }, ['a1', 'a2', 's1']],
    ['account', { scope: 'account', sub: 'sub-alice' }, ['b1', 's1']],
    ['account-disabled', { scope: 'account-disabled', sub: 'sub-bob' }, ['a1', 'a2', 's1']],
    ['client', { scope: 'client', client_id: 'web' }, ['a2', 's1']],
    ['an unknown scope', { scope: 'galaxy' }, []],
  ] as Array<[string, Partial<RevocationEvent>, string[]]>)('%s', (_name, event, expected) => {
    expect(survivors(event)).toEqual(expected);
  });

  it('drops everything for an unreadable body', () => {
    expect(survivors('unknown')).toEqual([]);
  });

  it('parses bodies: revocations, other types ignored, garbage unknown', () => {
    expect(parseEvent('{"v":1,"type":"revocation","scope":"account","sub":"x"}')).toMatchObject({ scope: 'account', sub: 'x' });
    expect(parseEvent('{"v":1,"type":"security","kind":"impossible-travel"}')).toBe('ignore');
    for (const body of ['nope', '42', 'null', '{"type":"revocation"}', '{"scope":"token"}']) expect(parseEvent(body)).toBe('unknown');
  });
});

describe('IntrospectionCache', () => {
  it('does not store an answer whose introspection started before an event (it may predate the revocation)', () => {
    const cache = new IntrospectionCache({ maxTtlSeconds: 300, maxEntries: 100, live: true });
    const started = cache.generation;
    cache.apply({ v: 1, type: 'revocation', scope: 'account', sub: 'sub-alice' });
    cache.set(tokenHash('a1'), auth('sub-alice', 'web'), started);
    expect(cache.size).toBe(0);
  });

  it('evicts the oldest entry past maxEntries', () => {
    const cache = new IntrospectionCache({ maxTtlSeconds: 300, maxEntries: 2, live: true });
    for (const t of ['t1', 't2', 't3']) cache.set(tokenHash(t), auth('s', 'c'), cache.generation);
    expect(cache.size).toBe(2);
    expect(cache.get(tokenHash('t1'))).toBeUndefined();
    expect(cache.get(tokenHash('t3'))).toBeDefined();
  });

  it('keeps an entry until min(maxTtlSeconds, exp)', () => {
    let now = 1_000_000_000_000;
    const cache = new IntrospectionCache({ maxTtlSeconds: 60, maxEntries: 10, live: true, now: () => now });
    cache.set('long', auth('s', 'c', now / 1000 + 3600), cache.generation);
    cache.set('short', auth('s', 'c', now / 1000 + 10), cache.generation);
    cache.set('expired', auth('s', 'c', now / 1000 - 1), cache.generation);
    expect(cache.size).toBe(2);
    now += 10_000;
    expect(cache.get('short')).toBeUndefined();
    expect(cache.get('long')).toBeDefined();
    now += 50_000;
    expect(cache.get('long')).toBeUndefined();
  });

  it('answers and stores nothing while suspended', () => {
    const cache = filled();
    cache.suspend();
    expect(cache.get(tokenHash('a1'))).toBeUndefined();
    cache.set('x', auth('s', 'c'), cache.generation);
    cache.resume();
    expect(cache.size).toBe(0);
  });
});
