import type { Context } from 'koa';
import { InvalidRequest } from '../errors/oauth-error.js';

const LIMIT_BYTES = 16 * 1024;

/**
 * Reads an `application/x-www-form-urlencoded` body (the only kind Latch's pages post), bounded
 * in size. Anything else is an `invalid_request`, never a crash.
 */
export async function readForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    throw new InvalidRequest('expected an application/x-www-form-urlencoded body');
  }
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > LIMIT_BYTES) throw new InvalidRequest('request body too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > LIMIT_BYTES) throw new InvalidRequest('request body too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
