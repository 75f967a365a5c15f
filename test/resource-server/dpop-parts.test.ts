import { DpopNonces, MemoryReplayStore, normaliseHtu } from 'latch/resource-server';

describe('normaliseHtu (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2 and §6.2.3)', () => {
  it.each([
    ['HTTPS://API.Example.COM/orders', 'https://api.example.com/orders'],
    ['https://api.example.com:443/orders', 'https://api.example.com/orders'],
    ['http://api.example.com:80/orders', 'http://api.example.com/orders'],
    ['https://api.example.com:8443/orders', 'https://api.example.com:8443/orders'],
    ['https://api.example.com', 'https://api.example.com/'],
    ['https://api.example.com/orders?page=2#top', 'https://api.example.com/orders'],
    ['https://api.example.com/a/./b/../c', 'https://api.example.com/a/c'],
    ['https://api.example.com/%7euser/a%2fb', 'https://api.example.com/~user/a%2Fb'],
    ['https://api.example.com/%41%42', 'https://api.example.com/AB'],
    ['https://user:pass@api.example.com/x', 'https://api.example.com/x'],
  ])('%s → %s', (input, normal) => {
    expect(normaliseHtu(input)).toBe(normal);
  });

  it.each(['/orders', 'ftp://api.example.com/x', 'not a url', 'urn:x:y'])('has no normal form for %s (it matches nothing)', (input) => {
    expect(normaliseHtu(input)).toBeUndefined();
  });

  it('keeps distinct paths distinct (case, trailing slash, encoded slash)', () => {
    expect(normaliseHtu('https://a.example/Orders')).not.toBe(normaliseHtu('https://a.example/orders'));
    expect(normaliseHtu('https://a.example/orders/')).not.toBe(normaliseHtu('https://a.example/orders'));
    expect(normaliseHtu('https://a.example/a%2Fb')).not.toBe(normaliseHtu('https://a.example/a/b'));
  });
});

describe('MemoryReplayStore', () => {
  it('claims a key once until it expires', async () => {
    let now = 1_000_000;
    const store = new MemoryReplayStore(10, () => now);
    expect(await store.claim('a', 60)).toBe(true);
    expect(await store.claim('a', 60)).toBe(false);
    now += 61_000;
    expect(await store.claim('a', 60)).toBe(true);
  });

  it('holds at most maxEntries: expired ones go first, then the oldest', async () => {
    let now = 0;
    const store = new MemoryReplayStore(3, () => now);
    for (const key of ['a', 'b', 'c']) expect(await store.claim(key, 60)).toBe(true);
    expect(store.size).toBe(3);
    expect(await store.claim('d', 60)).toBe(true);
    expect(store.size).toBe(3);
    expect(await store.claim('a', 60)).toBe(true); // the oldest went to make room
    expect(await store.claim('d', 60)).toBe(false);
    now += 120_000;
    expect(await store.claim('e', 60)).toBe(true);
    expect(store.size).toBe(1);
  });
});

describe('DpopNonces', () => {
  const SECRET = 'n'.repeat(32);
  it('accepts the nonce of the current minute, the two before and the next, nothing older', () => {
    let now = 1_700_000_000_000;
    const issuer = new DpopNonces([SECRET], 'https://api.example', () => now);
    const nonce = issuer.current();
    const checker = new DpopNonces([SECRET], 'https://api.example', () => now);
    expect(checker.check(nonce)).toBe(true);
    now += 60_000;
    expect(checker.check(nonce)).toBe(true);
    expect(checker.isCurrent(nonce)).toBe(false);
    now += 120_000;
    expect(checker.check(nonce)).toBe(false);
  });

  it('ties a nonce to the secret and to the API', () => {
    const now = () => 1_700_000_000_000;
    const nonce = new DpopNonces([SECRET], 'https://api.example', now).current();
    expect(new DpopNonces(['m'.repeat(32)], 'https://api.example', now).check(nonce)).toBe(false);
    expect(new DpopNonces([SECRET], 'https://other.example', now).check(nonce)).toBe(false);
    expect(new DpopNonces(['m'.repeat(32), SECRET], 'https://api.example', now).check(nonce)).toBe(true);
  });
});
