import type { IncomingMessage } from 'node:http';
import { Outbound } from '../../src/outbound/outbound.js';
import { OutboundError } from '../../src/outbound/outbound-error.js';
import { isSpecialUseAddress } from '../../src/outbound/special-use-address.js';
import { freePort } from '../support/redis-server.js';
import { listen, type Listening } from '../support/rs-apps.js';

/** What a receiver saw of one request. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let receiver: Listening;
const seen: Seen[] = [];
/** What the receiver does for a path (default: 200 "ok"). */
const behaviours = new Map<string, (res: import('node:http').ServerResponse) => void>();

beforeAll(async () => {
  receiver = await listen((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const behaviour = behaviours.get(req.url!.split('?')[0]!);
      if (behaviour) return behaviour(res);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  behaviours.set('/redirect', (res) => res.writeHead(302, { location: '/elsewhere' }).end());
  behaviours.set('/big', (res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('x'.repeat(1024 * 1024));
  });
  behaviours.set('/hang', () => {});
});
afterAll(() => receiver.close());
beforeEach(() => (seen.length = 0));

const open = new Outbound({ allowPrivateNetworks: true, timeoutMs: 2000, maxResponseBytes: 1000 });
const strict = new Outbound({ allowPrivateNetworks: false, timeoutMs: 2000 });
afterAll(() => Promise.all([open.close(), strict.close()]));

const form = { body: 'logout_token=abc.def.ghi', contentType: 'application/x-www-form-urlencoded' };

async function failure(promise: Promise<unknown>): Promise<OutboundError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof OutboundError)) throw new Error(`expected an OutboundError, got ${String(err)}`);
  return err;
}

describe('Outbound.sendPost', () => {
  it('POSTs the body with its content type and User-Agent: Latch, and returns the status and body', async () => {
    const response = await open.sendPost(`${receiver.url}/logout?x=1`, { ...form, headers: { authorization: 'Bearer receiver-secret' } });
    expect(response).toMatchObject({ status: 200, body: 'ok', truncated: false });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/logout?x=1', body: 'logout_token=abc.def.ghi' });
    expect(seen[0]!.headers).toMatchObject({ 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Latch', authorization: 'Bearer receiver-secret' });
  });

  it('follows no redirect: a 302 is the answer, and its target is never asked', async () => {
    const response = await open.sendPost(`${receiver.url}/redirect`, form);
    expect(response.status).toBe(302);
    expect(seen.map((s) => s.url)).toEqual(['/redirect']);
  });

  it('reads at most maxResponseBytes of the answer', async () => {
    const response = await open.sendPost(`${receiver.url}/big`, form);
    expect(response).toMatchObject({ status: 200, truncated: true });
    expect(response.body).toBe('x'.repeat(1000));
  });

  it('gives up with ERR_OUTBOUND_TIMEOUT when the receiver does not answer within the timeout', async () => {
    const started = Date.now();
    const err = await failure(open.sendPost(`${receiver.url}/hang`, { ...form, timeoutMs: 300 }));
    expect(err.code).toBe('ERR_OUTBOUND_TIMEOUT');
    expect(err.message).toBe(`${receiver.url}: no answer within 300 ms`);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports a closed port as ERR_OUTBOUND_CONNECTION', async () => {
    const port = await freePort();
    const err = await failure(open.sendPost(`http://127.0.0.1:${port}/logout`, form));
    expect(err.code).toBe('ERR_OUTBOUND_CONNECTION');
    expect(err.message).toBe(`http://127.0.0.1:${port}: ECONNREFUSED`);
  });

  it('reports a host name that does not resolve as ERR_OUTBOUND_DNS', async () => {
    const err = await failure(strict.sendPost('https://no-such-host.invalid/logout', form));
    expect(err.code).toBe('ERR_OUTBOUND_DNS');
  });

  it.each(['not a url', 'ftp://rp.example/logout', 'https://user:pass@rp.example/logout', 'file:///etc/passwd'])('refuses %s as ERR_OUTBOUND_INVALID_URL', async (url) => {
    const err = await failure(open.sendPost(url, form));
    expect(err.code).toBe('ERR_OUTBOUND_INVALID_URL');
    expect(err.message).not.toContain('pass');
  });
});

describe('the SSRF rule', () => {
  it.each([
    ['loopback', (port: number) => `http://127.0.0.1:${port}/logout`],
    ['a name that resolves to loopback', (port: number) => `http://localhost:${port}/logout`],
    ['IPv6 loopback', (port: number) => `http://[::1]:${port}/logout`],
    ['IPv4-mapped loopback', (port: number) => `http://[::ffff:127.0.0.1]:${port}/logout`],
    ['loopback written as one number', (port: number) => `http://2130706433:${port}/logout`],
    ['loopback written in hex', (port: number) => `http://0x7f.1:${port}/logout`],
  ])('refuses %s before sending a byte, without allowPrivateNetworks', async (_what, url) => {
    const port = Number(new URL(receiver.url).port);
    const err = await failure(strict.sendPost(url(port), form));
    expect(err.code).toBe('ERR_OUTBOUND_REFUSED_ADDRESS');
    expect(seen).toEqual([]);
  });

  it('checks the address a name resolves to, at connect time, and names the host', async () => {
    const port = Number(new URL(receiver.url).port);
    const err = await failure(strict.sendPost(`http://localhost:${port}/logout`, form));
    expect(err.message).toBe(`http://localhost:${port}: localhost resolves to a special-use address`);
  });

  it.each(['http://169.254.169.254/latest/meta-data/', 'http://10.1.2.3/logout', 'http://192.168.1.1/logout', 'http://[fd00::1]/logout', 'http://[fe80::1]/logout', 'http://0.0.0.0/logout'])(
    'refuses %s at once (no connection attempted, so no timeout)',
    async (url) => {
      const started = Date.now();
      const err = await failure(strict.sendPost(url, { ...form, timeoutMs: 5000 }));
      expect(err.code).toBe('ERR_OUTBOUND_REFUSED_ADDRESS');
      expect(Date.now() - started).toBeLessThan(1000);
    },
  );

  it('names only the origin when it refuses: never the path, the query or the body', async () => {
    const err = await failure(strict.sendPost('http://127.0.0.1:9/hook/s3cr3t-path?token=s3cr3t-query', form));
    expect(err.message).toBe('http://127.0.0.1:9 is a special-use address');
    expect(JSON.stringify({ ...err, message: err.message })).not.toMatch(/s3cr3t|abc\.def/);
  });

  it("lets the operator's own URLs (from the config file) reach a private address", async () => {
    const own = `${receiver.url}/operator-logout`;
    const outbound = new Outbound({ allowPrivateNetworks: false, operatorUrls: [own] });
    try {
      await expect(outbound.sendPost(own, form)).resolves.toMatchObject({ status: 200 });
      expect((await failure(outbound.sendPost(`${receiver.url}/other`, form))).code).toBe('ERR_OUTBOUND_REFUSED_ADDRESS');
      expect(seen.map((s) => s.url)).toEqual(['/operator-logout']);
    } finally {
      await outbound.close();
    }
  });
});

describe('isSpecialUseAddress', () => {
  it.each([
    '127.0.0.1', '127.255.255.254', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
    '192.0.2.1', '198.51.100.7', '203.0.113.9', '198.18.0.1', '224.0.0.1', '255.255.255.255', '240.0.0.1',
    '::', '::1', '[::1]', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::7f00:1', 'fc00::1', 'fd12:3456::1', 'fe80::1%eth0', 'ff02::1',
    '2001:db8::1', '2002:7f00:1::', '64:ff9b::7f00:1', 'fec0::1', 'not-an-ip',
  ])('%s is special-use', (address) => {
    expect(isSpecialUseAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.215.14', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8'])('%s is public', (address) => {
    expect(isSpecialUseAddress(address)).toBe(false);
  });
});
