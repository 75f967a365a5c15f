import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BodyTooLarge, readBody } from '../../src/http/request-body.js';

/** A server whose every request body is read with readBody(limit); the outcome is reported to the test. */
let server: Server;
let port: number;
let outcome: (result: Buffer | Error) => void = () => {};
const LIMIT = 1024;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    readBody(req, LIMIT).then(
      (body) => {
        outcome(body);
        res.end(`read ${body.length}`);
      },
      (err: Error) => {
        outcome(err);
        if (!res.destroyed) res.end('refused');
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function next(): Promise<Buffer | Error> {
  return new Promise((resolve) => (outcome = resolve));
}

/** Sends `chunks` as a chunked body (no content-length), one write each; `abort` destroys the request after them. */
function send(chunks: string[], abort = false): void {
  const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/', headers: { 'transfer-encoding': 'chunked' } });
  req.on('error', () => {});
  for (const chunk of chunks) req.write(chunk);
  if (abort) setTimeout(() => req.destroy(), 50);
  else req.end();
}

describe('readBody', () => {
  it('reads a body sent in several chunks, whole and in order', async () => {
    const read = next();
    send(['token=', 'abc', '&x=1']);
    expect(((await read) as Buffer).toString()).toBe('token=abc&x=1');
  });

  it('reads an empty body', async () => {
    const read = next();
    send([]);
    expect(((await read) as Buffer).length).toBe(0);
  });

  it('refuses a chunked body past the limit with BodyTooLarge', async () => {
    const read = next();
    send(['a'.repeat(600), 'b'.repeat(600)]);
    expect(await read).toBeInstanceOf(BodyTooLarge);
  });

  it('refuses a declared length past the limit before reading anything', async () => {
    const read = next();
    const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/', headers: { 'content-length': String(LIMIT + 1) } });
    req.on('error', () => {});
    req.end('x'.repeat(LIMIT + 1));
    expect(await read).toBeInstanceOf(BodyTooLarge);
  });

  it('fails (never hangs) when the client goes away mid-body', async () => {
    const read = next();
    send(['token='], true);
    const result = await read;
    // (An Error of another realm than Jest's: checked by shape.)
    expect(Buffer.isBuffer(result)).toBe(false);
    expect(result).not.toBeInstanceOf(BodyTooLarge);
    expect((result as Error).message).toMatch(/aborted|closed/);
  });
});
