import { adminToken } from '../support/admin.js';
import { startLatch, type TestLatch } from '../support/latch-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { ALL_EVENTS, CAEP, createStream, drain, POLL, poll, PUSH, receiverToken, RISC, SSF_EVENT, ssfCall, ssfFileConfig, until, verifySet } from '../support/ssf.js';
import { testFileConfig } from '../support/test-config.js';

/**
 * The transmitter's metadata and the SSF §8 stream management API, as a receiver with a Latch
 * access token for `urn:latch:ssf` uses it.
 */
let redis: TestRedis;
let latch: TestLatch;
let siem: string;
let reader: string;
let other: string;

beforeAll(async () => {
  redis = await startRedis();
  latch = await startLatch(redis.url, { file: ssfFileConfig({ maxStreamsPerReceiver: 30, minVerificationIntervalSeconds: 1 }) });
  [siem, reader, other] = await Promise.all([receiverToken(latch.url), receiverToken(latch.url, 'siem-reader'), receiverToken(latch.url, 'other-receiver')]);
});
afterAll(async () => {
  await latch?.close();
  await redis?.close();
});

const pollStream = () => createStream(latch.url, siem, { events_requested: [`${CAEP}session-revoked`], description: 'SIEM' });

describe('transmitter metadata', () => {
  it('is served at /.well-known/ssf-configuration with every endpoint, both delivery methods and OAuth as the scheme', async () => {
    const { status, json, headers } = await ssfCall(latch.url, 'GET', '/.well-known/ssf-configuration');
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^application\/json/);
    expect(json).toEqual({
      spec_version: '1_0',
      issuer: latch.url,
      jwks_uri: `${latch.url}/jwks`,
      delivery_methods_supported: [PUSH, POLL],
      configuration_endpoint: `${latch.url}/ssf/streams`,
      status_endpoint: `${latch.url}/ssf/status`,
      add_subject_endpoint: `${latch.url}/ssf/subjects/add`,
      remove_subject_endpoint: `${latch.url}/ssf/subjects/remove`,
      verification_endpoint: `${latch.url}/ssf/verify`,
      authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6749' }],
      default_subjects: 'ALL',
    });
  });

  it('is not served by a Latch without a resource server for urn:latch:ssf (nothing could use it)', async () => {
    const plain = await startLatch(redis.url, { file: testFileConfig() });
    try {
      expect((await ssfCall(plain.url, 'GET', '/.well-known/ssf-configuration')).status).toBe(404);
      expect((await ssfCall(plain.url, 'POST', '/ssf/streams', siem, {})).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});

describe('receiver authentication', () => {
  it('answers 401 with a Bearer challenge and no error code when there is no token', async () => {
    const { status, headers, json } = await ssfCall(latch.url, 'GET', '/ssf/streams');
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe('Bearer realm="latch-ssf"');
    expect(json).toEqual({ error_description: 'an access token for urn:latch:ssf is required' });
  });

  it('answers 401 invalid_token for a token of another audience (the admin API\'s)', async () => {
    const { status, headers, json } = await ssfCall(latch.url, 'GET', '/ssf/streams', await adminToken(latch.url));
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe('Bearer realm="latch-ssf", error="invalid_token", error_description="the access token is not active"');
    expect(json).toEqual({ error: 'invalid_token', error_description: 'the access token is not active' });
  });

  it('answers 403 insufficient_scope to a reader that tries to create a stream, and lets it read', async () => {
    const { status, headers, json } = await ssfCall(latch.url, 'POST', '/ssf/streams', reader, {});
    expect(status).toBe(403);
    expect(headers.get('www-authenticate')).toBe('Bearer realm="latch-ssf", error="insufficient_scope", error_description="this call needs the ssf.manage scope", scope="ssf.manage"');
    expect(json).toEqual({ error: 'insufficient_scope', error_description: 'this call needs the ssf.manage scope' });
    expect((await ssfCall(latch.url, 'GET', '/ssf/streams', reader)).json).toEqual([]);
  });

  it('refuses a token in the query string (RFC 6750 §2.3 is not supported)', async () => {
    const { status, json } = await ssfCall(latch.url, 'GET', `/ssf/streams?access_token=${siem}`);
    expect(status).toBe(400);
    expect(json).toEqual({ error: 'invalid_request', error_description: 'access tokens are not accepted in the query string' });
  });
});

describe('streams', () => {
  it('creates a poll stream when no delivery is given: 201 with the whole configuration', async () => {
    const { status, json } = await ssfCall(latch.url, 'POST', '/ssf/streams', siem, { events_requested: [`${CAEP}session-revoked`, 'urn:example:unknown'] });
    expect(status).toBe(201);
    const config = json as Record<string, unknown>;
    expect(config).toEqual({
      stream_id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      iss: latch.url,
      aud: 'siem',
      delivery: { method: POLL, endpoint_url: `${latch.url}/ssf/poll/${config.stream_id as string}` },
      events_supported: ALL_EVENTS,
      events_requested: [`${CAEP}session-revoked`, 'urn:example:unknown'],
      events_delivered: [`${CAEP}session-revoked`],
      min_verification_interval: 1,
      inactivity_timeout: 86400,
    });
  });

  it('creates a push stream and never shows its authorization_header again', async () => {
    const config = await createStream(latch.url, siem, {
      delivery: { method: PUSH, endpoint_url: 'http://127.0.0.1:9/events', authorization_header: 'Bearer receiver-side-secret' },
      events_requested: ALL_EVENTS,
    });
    expect(config.delivery).toEqual({ method: PUSH, endpoint_url: 'http://127.0.0.1:9/events' });
    expect(config.events_delivered).toEqual(ALL_EVENTS);
    const read = await ssfCall(latch.url, 'GET', `/ssf/streams?stream_id=${config.stream_id}`, siem);
    expect(read.text).not.toContain('receiver-side-secret');
    // Sealed at rest, too.
    expect(JSON.stringify(await redis.client.hgetall(`latch:{ssf}:s:${config.stream_id}`))).not.toContain('receiver-side-secret');
  });

  it.each([
    [{ delivery: { method: 'urn:example:carrier-pigeon' } }, `delivery.method: must be "${PUSH}" (push) or "${POLL}" (poll)`],
    [{ delivery: { method: PUSH } }, 'delivery.endpoint_url: required for push delivery (an absolute https URL)'],
    [{ delivery: { method: PUSH, endpoint_url: 'ftp://example.com/x' } }, 'delivery.endpoint_url: must be an http(s) URL'],
    [{ delivery: { method: PUSH, endpoint_url: 'https://user:pw@example.com/x' } }, 'delivery.endpoint_url: must have no fragment and no credentials'],
    [{ events_requested: 'all' }, 'events_requested: must be an array of at most 64 event type URIs'],
    [{ description: 7 }, 'description: must be a string'],
  ])('answers 400 invalid_request naming the member for %j', async (body, description) => {
    const { status, json } = await ssfCall(latch.url, 'POST', '/ssf/streams', siem, body);
    expect({ status, json }).toEqual({ status: 400, json: { error: 'invalid_request', error_description: description } });
  });

  it('answers 400 for a body that is not JSON', async () => {
    const response = await fetch(`${latch.url}/ssf/streams`, { method: 'POST', headers: { authorization: `Bearer ${siem}`, 'content-type': 'application/json' }, body: '{nope' });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'invalid_request', error_description: 'the body is not valid JSON' });
  });

  it('lists only the receiver\'s own streams, and another receiver\'s stream is 404 for it', async () => {
    const mine = await pollStream();
    const theirs = await createStream(latch.url, other, {});
    const listed = (await ssfCall(latch.url, 'GET', '/ssf/streams', siem)).json as Array<{ stream_id: string }>;
    expect(listed.map((s) => s.stream_id)).toContain(mine.stream_id);
    expect(listed.map((s) => s.stream_id)).not.toContain(theirs.stream_id);
    for (const [method, path, body] of [
      ['GET', `/ssf/streams?stream_id=${theirs.stream_id}`, undefined],
      ['DELETE', `/ssf/streams?stream_id=${theirs.stream_id}`, undefined],
      ['PATCH', '/ssf/streams', { stream_id: theirs.stream_id, description: 'mine now' }],
      ['GET', `/ssf/status?stream_id=${theirs.stream_id}`, undefined],
      ['POST', '/ssf/verify', { stream_id: theirs.stream_id }],
      ['POST', `/ssf/poll/${theirs.stream_id}`, {}],
    ] as const) {
      const { status, json } = await ssfCall(latch.url, method, path, siem, body);
      expect({ method, path, status, json }).toEqual({ method, path, status: 404, json: { error: 'not_found', error_description: `no stream "${theirs.stream_id}" for this receiver` } });
    }
  });

  it('PATCH changes only what it names; events_delivered follows events_requested', async () => {
    const stream = await pollStream();
    const { status, json } = await ssfCall(latch.url, 'PATCH', '/ssf/streams', siem, { stream_id: stream.stream_id, events_requested: [`${RISC}account-disabled`] });
    expect(status).toBe(200);
    expect(json).toMatchObject({ description: 'SIEM', events_requested: [`${RISC}account-disabled`], events_delivered: [`${RISC}account-disabled`] });
  });

  it('PUT replaces: a receiver-supplied member it omits is deleted', async () => {
    const stream = await pollStream();
    const { status, json } = await ssfCall(latch.url, 'PUT', '/ssf/streams', siem, { stream_id: stream.stream_id, events_requested: [`${CAEP}session-revoked`] });
    expect(status).toBe(200);
    expect(json).not.toHaveProperty('description');
  });

  it('refuses to change a transmitter-supplied member or the delivery method (400 naming it)', async () => {
    const stream = await pollStream();
    const wrongAud = await ssfCall(latch.url, 'PATCH', '/ssf/streams', siem, { stream_id: stream.stream_id, aud: 'someone-else' });
    expect(wrongAud.json).toEqual({ error: 'invalid_request', error_description: 'aud: is set by the transmitter and cannot be changed (it is "siem")' });
    const toPush = await ssfCall(latch.url, 'PATCH', '/ssf/streams', siem, { stream_id: stream.stream_id, delivery: { method: PUSH, endpoint_url: 'https://rx.example/events' } });
    expect(toPush).toMatchObject({ status: 400, json: { error: 'invalid_request', error_description: 'delivery.method: a stream keeps its delivery method (poll); create another stream for push' } });
    const same = await ssfCall(latch.url, 'PATCH', '/ssf/streams', siem, { stream_id: stream.stream_id, events_supported: [...ALL_EVENTS].reverse(), iss: latch.url });
    expect(same.status).toBe(200);
  });

  it('DELETE answers 204, and the stream is gone with its queue', async () => {
    const stream = await pollStream();
    expect((await ssfCall(latch.url, 'DELETE', `/ssf/streams?stream_id=${stream.stream_id}`, siem)).status).toBe(204);
    expect((await ssfCall(latch.url, 'GET', `/ssf/streams?stream_id=${stream.stream_id}`, siem)).status).toBe(404);
    expect(await redis.client.exists(`latch:{ssf}:s:${stream.stream_id}`, `latch:{ssf}:s:${stream.stream_id}:q`)).toBe(0);
  });

  it('answers 409 past ssf.maxStreamsPerReceiver', async () => {
    const limit = 30;
    const existing = ((await ssfCall(latch.url, 'GET', '/ssf/streams', other)).json as unknown[]).length;
    for (let i = existing; i < limit; i++) await createStream(latch.url, other, {});
    const { status, json } = await ssfCall(latch.url, 'POST', '/ssf/streams', other, {});
    expect({ status, json }).toEqual({ status: 409, json: { error: 'conflict', error_description: 'this receiver already has 30 streams (ssf.maxStreamsPerReceiver): delete one, or update it' } });
  });

  it('answers 405 with Allow for a method the endpoint does not have', async () => {
    const { status, headers } = await ssfCall(latch.url, 'DELETE', '/ssf/status', siem);
    expect(status).toBe(405);
    expect(headers.get('allow')).toBe('GET, POST');
  });
});

describe('status', () => {
  it('reads and updates a stream\'s status; a paused stream holds its events and hands them out once enabled', async () => {
    const stream = await createStream(latch.url, siem, { events_requested: [`${RISC}account-enabled`] });
    const id = stream.stream_id;
    expect((await ssfCall(latch.url, 'GET', `/ssf/status?stream_id=${id}`, siem)).json).toEqual({ stream_id: id, status: 'enabled' });
    const paused = await ssfCall(latch.url, 'POST', '/ssf/status', siem, { stream_id: id, status: 'paused', reason: 'maintenance' });
    expect(paused.json).toEqual({ stream_id: id, status: 'paused', reason: 'maintenance' });
    await latch.revocations.enableAccount('sub-bob', { actor: 'test', reason: 'held while paused' });
    expect((await poll(latch.url, siem, id)).sets).toEqual({});
    await ssfCall(latch.url, 'POST', '/ssf/status', siem, { stream_id: id, status: 'enabled' });
    const sets = await drain(latch.url, siem, id, 'siem');
    expect(sets.map((s) => [s.type, s.event.reason_admin])).toEqual([[`${RISC}account-enabled`, { en: 'held while paused' }]]);
  });

  it('disabled holds nothing: what was queued goes, what is published meanwhile is not kept', async () => {
    const stream = await createStream(latch.url, siem, { events_requested: [`${RISC}account-enabled`] });
    const id = stream.stream_id;
    await latch.revocations.enableAccount('sub-bob', { actor: 'test', reason: 'before the disable' });
    await ssfCall(latch.url, 'POST', '/ssf/status', siem, { stream_id: id, status: 'disabled' });
    await latch.revocations.enableAccount('sub-bob', { actor: 'test', reason: 'while disabled' });
    await ssfCall(latch.url, 'POST', '/ssf/status', siem, { stream_id: id, status: 'enabled' });
    await latch.revocations.enableAccount('sub-bob', { actor: 'test', reason: 'after' });
    const sets = await drain(latch.url, siem, id, 'siem');
    expect(sets.map((s) => s.event.reason_admin)).toEqual([{ en: 'after' }]);
  });

  it('answers 400 for an unknown status', async () => {
    const stream = await pollStream();
    const { status, json } = await ssfCall(latch.url, 'POST', '/ssf/status', siem, { stream_id: stream.stream_id, status: 'asleep' });
    expect({ status, json }).toEqual({ status: 400, json: { error: 'invalid_request', error_description: 'status: must be "enabled", "paused" or "disabled"' } });
  });
});

describe('verification', () => {
  it('answers 204 and queues a verification SET echoing state, with the stream as its opaque subject', async () => {
    const stream = await pollStream();
    const { status, text } = await ssfCall(latch.url, 'POST', '/ssf/verify', siem, { stream_id: stream.stream_id, state: 'c3RhdGUtMQ' });
    expect({ status, text }).toEqual({ status: 204, text: '' });
    const [set] = await drain(latch.url, siem, stream.stream_id, 'siem');
    expect(set!.claims).toEqual({
      iss: latch.url,
      aud: 'siem',
      iat: expect.any(Number),
      jti: expect.any(String),
      sub_id: { format: 'opaque', id: stream.stream_id },
      events: { [`${SSF_EVENT}verification`]: { state: 'c3RhdGUtMQ' } },
    });
    expect(set!.header).toEqual({ alg: 'RS256', typ: 'secevent+jwt', kid: 'test-key' });
  });

  it('answers 429 with Retry-After to a second request within min_verification_interval', async () => {
    const stream = await pollStream();
    expect((await ssfCall(latch.url, 'POST', '/ssf/verify', siem, { stream_id: stream.stream_id })).status).toBe(204);
    const again = await ssfCall(latch.url, 'POST', '/ssf/verify', siem, { stream_id: stream.stream_id });
    expect(again.status).toBe(429);
    expect(again.headers.get('retry-after')).toBe('1');
    expect(again.json).toEqual({ error: 'temporarily_unavailable', error_description: 'a verification was requested less than min_verification_interval (1 s) ago' });
  });
});

describe('polling (RFC 8936)', () => {
  it('hands out unacknowledged SETs again with the same jti, and drops them once acknowledged', async () => {
    const stream = await createStream(latch.url, siem, { events_requested: [`${RISC}account-enabled`] });
    for (const reason of ['one', 'two', 'three']) await latch.revocations.enableAccount('sub-bob', { actor: 'test', reason });
    const first = await poll(latch.url, siem, stream.stream_id, { maxEvents: 2, returnImmediately: true });
    expect(Object.keys(first.sets)).toHaveLength(2);
    expect(first.moreAvailable).toBe(true);
    const again = await poll(latch.url, siem, stream.stream_id, { maxEvents: 2, returnImmediately: true });
    expect(Object.keys(again.sets)).toEqual(Object.keys(first.sets));
    const rest = await poll(latch.url, siem, stream.stream_id, { ack: Object.keys(first.sets), returnImmediately: true });
    const reasons = await Promise.all(Object.values(rest.sets).map(async (set) => (await verifySet(set, latch.url, 'siem')).event.reason_admin));
    expect(reasons).toEqual([{ en: 'three' }]);
    expect(rest.moreAvailable).toBeUndefined();
    const empty = await poll(latch.url, siem, stream.stream_id, { ack: Object.keys(rest.sets), returnImmediately: true });
    expect(empty).toEqual({ sets: {} });
  });

  it('drops SETs the receiver refused in setErrs, and maxEvents 0 only acknowledges', async () => {
    const stream = await createStream(latch.url, siem, { events_requested: [`${RISC}account-enabled`] });
    await latch.revocations.enableAccount('sub-bob', { actor: 'test', reason: 'refused' });
    const { sets } = await poll(latch.url, siem, stream.stream_id);
    const [jti] = Object.keys(sets);
    expect(await poll(latch.url, siem, stream.stream_id, { setErrs: { [jti!]: { err: 'invalid_key', description: 'unknown kid' } }, maxEvents: 0 })).toEqual({ sets: {} });
    expect(await poll(latch.url, siem, stream.stream_id)).toEqual({ sets: {} });
  });

  it('a long poll answers as soon as an event is published', async () => {
    const stream = await createStream(latch.url, siem, { events_requested: [`${RISC}account-enabled`] });
    const started = Date.now();
    const waiting = poll(latch.url, siem, stream.stream_id, { returnImmediately: false });
    await new Promise((r) => setTimeout(r, 300));
    await latch.revocations.enableAccount('sub-bob', { actor: 'test', reason: 'wake up' });
    const { sets } = await waiting;
    expect(Object.keys(sets)).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('answers 400 for a malformed poll request, and 400 for a push stream', async () => {
    const stream = await pollStream();
    const bad = await ssfCall(latch.url, 'POST', `/ssf/poll/${stream.stream_id}`, siem, { maxEvents: -1 });
    expect(bad.json).toEqual({ error: 'invalid_request', error_description: 'maxEvents: must be a non-negative integer' });
    const push = await createStream(latch.url, siem, { delivery: { method: PUSH, endpoint_url: 'http://127.0.0.1:9/x' } });
    const refused = await ssfCall(latch.url, 'POST', `/ssf/poll/${push.stream_id}`, siem, {});
    expect(refused).toMatchObject({ status: 400, json: { error: 'invalid_request', error_description: 'this stream uses push delivery (RFC 8935): nothing to poll' } });
  });
});

describe('when Redis is unreachable', () => {
  it('answers 503 temporarily_unavailable, never a stream list or a 500, and serves again once it is back', async () => {
    const stream = await pollStream();
    await redis.stop();
    try {
      for (const [method, path, body] of [
        ['GET', '/ssf/streams', undefined],
        ['POST', '/ssf/streams', {}],
        ['POST', `/ssf/poll/${stream.stream_id}`, { returnImmediately: true }],
      ] as const) {
        const { status, json } = await ssfCall(latch.url, method, path, siem, body);
        expect({ path, status, error: (json as { error?: string }).error }).toEqual({ path, status: 503, error: 'temporarily_unavailable' });
      }
    } finally {
      await redis.start();
    }
    // This test Redis keeps nothing across a restart: a new token, and an empty list of streams.
    await until(async () => (await receiverToken(latch.url).then((t) => ssfCall(latch.url, 'GET', '/ssf/streams', t), () => ({ status: 0 }))).status === 200, 10_000, 'serving again');
  });
});
