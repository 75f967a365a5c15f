import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';

/** OIDC Back-Channel Logout 1.0 §2.4. */
export const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** One back-channel logout request as a relying party received it. */
export interface ReceivedLogout {
  /** The path it was POSTed to (one per client in the tests). */
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw form body. */
  body: string;
  token: string;
}

export interface LogoutReceiver {
  url: string;
  received: ReceivedLogout[];
  /** What to answer (default 200); 0: never answer (a receiver that hangs). */
  status: number;
  /** Stops listening (connections refused) until `up()`, on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Waits until `count` requests have arrived in total (or fails after `ms`). */
  waitFor(count: number, ms?: number): Promise<ReceivedLogout[]>;
  close(): Promise<void>;
}

/** A relying party's back-channel logout endpoint: a real HTTP server on a loopback port that records every request. */
export async function startLogoutReceiver(): Promise<LogoutReceiver> {
  let server: Server;
  let port = 0;
  const receiver: LogoutReceiver = {
    url: '',
    received: [],
    status: 200,
    async down() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async up() {
      await listen();
    },
    async waitFor(count, ms = 10_000) {
      for (const deadline = Date.now() + ms; receiver.received.length < count; ) {
        if (Date.now() > deadline) throw new Error(`expected ${count} logout requests within ${ms} ms, got ${receiver.received.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return receiver.received;
    },
    async close() {
      if (server.listening) await receiver.down();
    },
  };
  async function listen() {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        receiver.received.push({ path: req.url!, headers: req.headers, body, token: new URLSearchParams(body).get('logout_token') ?? '' });
        if (receiver.status !== 0) res.writeHead(receiver.status, { 'cache-control': 'no-store' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    receiver.url = `http://127.0.0.1:${port}`;
  }
  await listen();
  return receiver;
}

/**
 * Verifies a logout token as §2.6 asks a relying party to, with jose against Latch's JWKS: the
 * signature, `typ` logout+jwt, `iss`, `aud`, `iat`, a short `exp`, `jti`, the `events` member (an
 * object), `sub` or `sid`, and no `nonce`. Returns the claims; throws on any failure.
 */
export async function verifyLogoutToken(issuer: string, token: string, clientId: string, jwksUrl = `${issuer}/jwks`): Promise<JWTPayload & { sid?: string; events: Record<string, unknown> }> {
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer,
    audience: clientId,
    typ: 'logout+jwt',
    requiredClaims: ['iat', 'exp', 'jti', 'events'],
    algorithms: ['RS256'],
  });
  if (protectedHeader.typ !== 'logout+jwt' || decodeProtectedHeader(token).kid === undefined) throw new Error('not an explicitly typed, key-identified logout token');
  const events = payload.events as Record<string, unknown> | undefined;
  if (typeof events?.[LOGOUT_EVENT] !== 'object' || events[LOGOUT_EVENT] === null) throw new Error('no back-channel logout event');
  if ('nonce' in payload) throw new Error('a logout token must not carry a nonce');
  if (!payload.sub && !payload.sid) throw new Error('neither sub nor sid');
  if (payload.exp! - payload.iat! > 120) throw new Error('exp more than two minutes after iat');
  if (Math.abs(payload.iat! - Date.now() / 1000) > 30) throw new Error('iat is not now');
  return payload as JWTPayload & { sid?: string; events: Record<string, unknown> };
}
