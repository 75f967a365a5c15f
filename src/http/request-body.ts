import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import { InvalidRequest } from '../errors/oauth-error.js';

export class BodyTooLarge extends Error {}

/** Reads a request body up to `limit` bytes (declared or actual); past it, BodyTooLarge. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
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
