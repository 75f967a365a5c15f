import type { IncomingMessage } from 'node:http';
import type { ResourceServer } from './resource-server.js';
import { MAX_PUSH_BYTES, type PushAnswer } from './ssf-source.js';

/** The raw body of a push, bounded (undefined past the bound). A body a parser already read is taken as is. */
async function rawBody(req: IncomingMessage & { body?: unknown }): Promise<string | undefined> {
  if (req.readableEnded) return typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? req.body.toString('utf8') : undefined;
  if (Number(req.headers['content-length'] ?? 0) > MAX_PUSH_BYTES) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_PUSH_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * What the adapters' `securityEvents` middleware answers for a request, or undefined when it is not
 * a push to this resource server's endpoint (the next middleware then runs).
 */
export async function pushAnswer(rs: ResourceServer, req: IncomingMessage, path: string): Promise<PushAnswer | undefined> {
  const endpoint = rs.securityEventsPath;
  if (!endpoint || path !== endpoint) return undefined;
  if (req.method !== 'POST') return { status: 405, headers: { allow: 'POST' }, body: '' };
  const body = await rawBody(req);
  if (body === undefined) {
    return { status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ err: 'invalid_request', description: `a SET body is at most ${MAX_PUSH_BYTES} bytes` }) };
  }
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  return rs.receiveSecurityEvent({ authorization: header('authorization'), contentType: header('content-type'), body });
}
