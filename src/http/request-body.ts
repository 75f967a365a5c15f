import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import { InvalidRequest } from '../errors/oauth-error.js';

export class BodyTooLarge extends Error {}

/**
 * Reads a request body up to `limit` bytes (declared or actual); past it, BodyTooLarge (and the
 * request is destroyed, as an abandoned async iteration would). Listens for events rather than
 * iterating: an async iterator costs a few promises per request on the introspection hot path.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(new BodyTooLarge());
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (err: Error | undefined) => {
      req.off('data', onData).off('end', onEnd).off('error', settle).off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      settle(new BodyTooLarge());
      req.destroy();
    };
    const onEnd = () => settle(undefined);
    // Closed before its end: the client went away mid-body.
    const onClose = () => settle(Object.assign(new Error('the request closed before its body ended'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    req.on('data', onData).on('end', onEnd).on('error', settle).on('close', onClose);
  });
}

async function readLimited(ctx: Context, type: string, limit: number): Promise<string> {
  if (!ctx.is(type)) throw new InvalidRequest(`expected an ${type} body`);
  try {
    return (await readBody(ctx.req, limit)).toString('utf8');
  } catch (err) {
    if (err instanceof BodyTooLarge) throw new InvalidRequest('request body too large');
    throw err;
  }
}

/**
 * An `application/x-www-form-urlencoded` body (the only kind Latch's pages post), bounded in
 * size. Anything else is an `invalid_request`, never a crash.
 */
export async function readForm(ctx: Context, limit = 16 * 1024): Promise<URLSearchParams> {
  return new URLSearchParams(await readLimited(ctx, 'application/x-www-form-urlencoded', limit));
}

/** A JSON body (the admin API), bounded in size; malformed JSON is an `invalid_request`. */
export async function readJson(ctx: Context, limit = 16 * 1024): Promise<unknown> {
  const text = await readLimited(ctx, 'application/json', limit);
  try {
    return JSON.parse(text || 'null');
  } catch {
    throw new InvalidRequest('the body is not valid JSON');
  }
}
