import { extractBearerToken } from 'latch/resource-server';

const extract = (authorization: string | string[] | undefined, url = '/orders') => {
  try {
    return { token: extractBearerToken({ authorization, url }) };
  } catch (err) {
    const { code, status, error } = err as { code: string; status: number; error?: string };
    return { code, status, error };
  }
};

describe('extractBearerToken (RFC 6750 §2)', () => {
  it('reads the token of an Authorization: Bearer header, scheme case-insensitive', () => {
    expect(extract('Bearer abc.DEF-123_~+/==')).toEqual({ token: 'abc.DEF-123_~+/==' });
    expect(extract('bearer abc')).toEqual({ token: 'abc' });
    expect(extract('BEARER   abc  ')).toEqual({ token: 'abc' });
    expect(extract(['Bearer abc'])).toEqual({ token: 'abc' });
  });

  it('treats no header, an empty one, or another scheme as "no credentials" (401, no error code)', () => {
    for (const value of [undefined, '', [], ['', ''], 'Basic YTpi', 'DPoP abc']) {
      expect(extract(value)).toEqual({ code: 'ERR_TOKEN_MISSING', status: 401, error: undefined });
    }
  });

  it('answers 400 invalid_request for malformed values', () => {
    for (const value of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a=b', 'Bearer "a"', 'Bearer a,b', `Bearer ${'a'.repeat(4097)}`, ['Bearer a', 'Bearer b'], 'Bear(er) x']) {
      expect(extract(value)).toEqual({ code: 'ERR_REQUEST_MALFORMED', status: 400, error: 'invalid_request' });
    }
  });

  it('refuses access_token in the query string, with or without a header (§2.3)', () => {
    for (const url of ['/orders?access_token=abc', '/orders?x=1&access_token=', '/?access_token']) {
      expect(extract('Bearer abc', url)).toEqual({ code: 'ERR_TOKEN_IN_QUERY', status: 400, error: 'invalid_request' });
      expect(extract(undefined, url)).toEqual({ code: 'ERR_TOKEN_IN_QUERY', status: 400, error: 'invalid_request' });
    }
    expect(extract('Bearer abc', '/orders?token=abc&access_tokens=1')).toEqual({ token: 'abc' });
  });
});
