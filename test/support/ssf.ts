import type { IncomingHttpHeaders } from 'node:http';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { parseFileConfig } from '../../src/config/load.js';
import type { LatchFileConfig } from '../../src/config/schema.js';
import { postForm } from './oauth.js';
import { listen, type Listening } from './rs-apps.js';
import { testFileConfig } from './test-config.js';

export const SSF_API = 'urn:latch:ssf';
export const PUSH = 'urn:ietf:rfc:8935';
export const POLL = 'urn:ietf:rfc:8936';
export const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/';
export const RISC = 'https://schemas.openid.net/secevent/risc/event-type/';
export const SSF_EVENT = 'https://schemas.openid.net/secevent/ssf/event-type/';
export const ALL_EVENTS = [
  `${CAEP}session-revoked`,
  `${CAEP}token-claims-change`,
  `${CAEP}credential-change`,
  `${CAEP}risk-level-change`,
  `${RISC}account-disabled`,
  `${RISC}account-enabled`,
  `${RISC}account-purged`,
];

/** Receivers (clients with SSF tokens) of the SSF tests. */
export const RECEIVER_SECRETS = {
  siem: 'siem-receiver-secret-0123456789abcdef',
  reader: 'reader-receiver-secret-0123456789abcd',
  other: 'other-receiver-secret-0123456789abcde',
};

/**
 * testFileConfig() plus the Shared Signals API (`urn:latch:ssf`) and three receivers: `siem`
 * (ssf.manage), `siem-reader` (ssf.read only) and `other-receiver` (ssf.manage).
 */
export function ssfFileConfig(ssf: Partial<LatchFileConfig['ssf']> = {}, base: LatchFileConfig = testFileConfig()): LatchFileConfig {
  return parseFileConfig({
    ...base,
    ssf: { ...base.ssf, minVerificationIntervalSeconds: 0, ...ssf },
    // Short pushes, so a push lease of a Latch stopped mid-push (3 × this) frees quickly.
    outbound: { ...base.outbound, timeoutMs: 1000 },
    scopes: { ...base.scopes, 'ssf.manage': 'Manage event streams', 'ssf.read': 'Read event streams' },
    resourceServers: [...base.resourceServers, { audience: SSF_API, name: 'Shared Signals', scopes: ['ssf.manage', 'ssf.read'] }],
    clients: [
      ...base.clients,
      { client_id: 'siem', client_secret: RECEIVER_SECRETS.siem, grant_types: ['client_credentials'], scope: 'ssf.manage ssf.read', resources: [SSF_API] },
      { client_id: 'siem-reader', client_secret: RECEIVER_SECRETS.reader, grant_types: ['client_credentials'], scope: 'ssf.read', resources: [SSF_API] },
      { client_id: 'other-receiver', client_secret: RECEIVER_SECRETS.other, grant_types: ['client_credentials'], scope: 'ssf.manage', resources: [SSF_API] },
    ],
  });
}

/** A client-credentials token for the SSF API. */
export async function receiverToken(issuer: string, client: 'siem' | 'siem-reader' | 'other-receiver' = 'siem', scope?: string): Promise<string> {
  const secret = { siem: RECEIVER_SECRETS.siem, 'siem-reader': RECEIVER_SECRETS.reader, 'other-receiver': RECEIVER_SECRETS.other }[client];
  const { status, json } = await postForm(`${issuer}/token`, { grant_type: 'client_credentials', resource: SSF_API, scope: scope ?? (client === 'siem-reader' ? 'ssf.read' : 'ssf.manage') }, [client, secret]);
  if (status !== 200) throw new Error(`receiver token: ${status} ${JSON.stringify(json)}`);
  return json!.access_token as string;
}

export interface SsfResponse {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** Calls the SSF API with a bearer token (and a JSON body). */
export async function ssfCall(issuer: string, method: string, path: string, token?: string, body?: unknown): Promise<SsfResponse> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${issuer}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Creates a stream; returns its configuration. */
export async function createStream(issuer: string, token: string, body: Record<string, unknown>): Promise<Record<string, unknown> & { stream_id: string }> {
  const { status, json } = await ssfCall(issuer, 'POST', '/ssf/streams', token, body);
  if (status !== 201) throw new Error(`create stream: ${status} ${JSON.stringify(json)}`);
  return json as Record<string, unknown> & { stream_id: string };
}

export interface VerifiedSet {
  header: Record<string, unknown>;
  claims: JWTPayload & { sub_id: Record<string, unknown>; events: Record<string, Record<string, unknown>>; txn?: string };
  /** The one event type URI of the SET. */
  type: string;
  event: Record<string, unknown>;
}

const jwksCache = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/**
 * Verifies a SET as a receiver must (RFC 8417, SSF §4.1): signature against Latch's JWKS, RS256,
 * `typ: secevent+jwt`, `iss` the issuer, `aud` the receiver, `jti` and `iat` present, no `exp` and
 * no `sub`, exactly one event in `events`, a `sub_id` with a `format`.
 */
export async function verifySet(set: string, issuer: string, audience: string, jwksFrom = issuer): Promise<VerifiedSet> {
  let jwks = jwksCache.get(jwksFrom);
  if (!jwks) jwksCache.set(jwksFrom, (jwks = createRemoteJWKSet(new URL(`${jwksFrom}/jwks`))));
  const { payload, protectedHeader } = await jwtVerify(set, jwks, { issuer, audience, typ: 'secevent+jwt', algorithms: ['RS256'] });
  expect(decodeProtectedHeader(set).typ).toBe('secevent+jwt');
  expect(typeof payload.jti).toBe('string');
  expect(typeof payload.iat).toBe('number');
  expect(payload.exp).toBeUndefined();
  expect(payload.sub).toBeUndefined();
  const events = payload.events as Record<string, Record<string, unknown>>;
  expect(Object.keys(events)).toHaveLength(1);
  const subId = payload.sub_id as Record<string, unknown>;
  expect(typeof subId.format).toBe('string');
  const type = Object.keys(events)[0]!;
  return { header: protectedHeader as Record<string, unknown>, claims: payload as VerifiedSet['claims'], type, event: events[type]! };
}

/** Polls a stream once (RFC 8936); returns the SETs by jti and whether more are available. */
export async function poll(issuer: string, token: string, streamId: string, body: Record<string, unknown> = { returnImmediately: true }) {
  const response = await ssfCall(issuer, 'POST', `/ssf/poll/${streamId}`, token, body);
  if (response.status !== 200) throw new Error(`poll: ${response.status} ${response.text}`);
  return response.json as { sets: Record<string, string>; moreAvailable?: boolean };
}

/** Polls until the stream is empty, acknowledging everything; returns every SET verified, in order. */
export async function drain(issuer: string, token: string, streamId: string, audience: string, iss = issuer): Promise<VerifiedSet[]> {
  const all: VerifiedSet[] = [];
  let ack: string[] = [];
  for (let i = 0; i < 50; i++) {
    const { sets } = await poll(issuer, token, streamId, { ack, returnImmediately: true });
    ack = Object.keys(sets);
    for (const set of Object.values(sets)) all.push(await verifySet(set, iss, audience, issuer));
    if (ack.length === 0) return all;
  }
  throw new Error('the stream did not drain');
}

/** What a push receiver saw of one POST. */
export interface Pushed {
  headers: IncomingHttpHeaders;
  body: string;
}

export interface PushReceiver extends Listening {
  /** Every POST received, in order (answered or not). */
  received: Pushed[];
  /** The status it answers (202 by default); a body for 400 answers. */
  answer: { status: number; body?: string };
  /** Resolves once `count` POSTs answered 2xx have arrived. */
  accepted(count: number, ms?: number): Promise<Pushed[]>;
  /** Stops listening (connections refused) until start(). */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A real RFC 8935 receiver: records every POST and answers `answer.status`. */
export async function pushReceiver(): Promise<PushReceiver> {
  const received: Pushed[] = [];
  const acceptedSets: Pushed[] = [];
  const answer = { status: 202 } as { status: number; body?: string };
  const listener = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const pushed = { headers: req.headers, body };
      received.push(pushed);
      if (answer.status >= 200 && answer.status < 300) acceptedSets.push(pushed);
      res.writeHead(answer.status, answer.body ? { 'content-type': 'application/json' } : {}).end(answer.body ?? '');
    });
  };
  let listening = await listen(listener);
  const port = new URL(listening.url).port;
  const receiver: PushReceiver = {
    ...listening,
    get url() {
      return listening.url;
    },
    received,
    answer,
    async accepted(count, ms = 10_000) {
      for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
        if (acceptedSets.length >= count) return acceptedSets.slice(0, count);
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`only ${acceptedSets.length} of ${count} SETs accepted within ${ms} ms`);
    },
    stop: () => listening.close(),
    async start() {
      const { createServer } = await import('node:http');
      const server = createServer(listener);
      await new Promise<void>((resolve) => server.listen(Number(port), '127.0.0.1', resolve));
      listening = {
        url: `http://127.0.0.1:${port}`,
        server,
        async close() {
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    },
    close: () => listening.close(),
  };
  return receiver;
}

/** Deletes every stream of the receiver (tests that must not see each other's streams). */
export async function deleteStreams(issuer: string, token: string): Promise<void> {
  const { json } = await ssfCall(issuer, 'GET', '/ssf/streams', token);
  for (const { stream_id } of json as Array<{ stream_id: string }>) await ssfCall(issuer, 'DELETE', `/ssf/streams?stream_id=${stream_id}`, token);
}

/** Waits until `check` is true (polling every 20 ms), up to `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${what} not met within ${ms} ms`);
}
