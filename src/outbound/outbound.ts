import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { OutboundError } from './outbound-error.js';
import { isSpecialUseAddress } from './special-use-address.js';

/** What the receiver answered; Latch reads at most `maxResponseBytes` of the body. */
export interface OutboundResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** True when the body was longer than the bound and the rest was not read. */
  truncated: boolean;
}

export interface PostOptions {
  body: string;
  contentType: string;
  /** Extra request headers (e.g. an SSF receiver's Authorization). Never logged. */
  headers?: Record<string, string>;
  /** Bound on the whole exchange (connect, headers, body); the instance's default otherwise. */
  timeoutMs?: number;
}

export interface OutboundOptions {
  /**
   * Let any registered URL reach loopback, private and other special-use addresses (the config's
   * `outbound.allowPrivateNetworks`). Off, only the operator's own URLs may.
   */
  allowPrivateNetworks: boolean;
  /** URLs the operator wrote in the config file: trusted to point inside the operator's network. */
  operatorUrls?: Iterable<string>;
  /** Default bound on one request (ms). */
  timeoutMs?: number;
  /** Bound on the response body Latch reads (bytes). */
  maxResponseBytes?: number;
}

const USER_AGENT = 'Latch';

/** `https://host:port` of a URL: the only part of a target an error message or a log line names. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * A `dns.lookup` that refuses special-use answers. The socket connects to the very addresses this
 * returns, so a host that resolves to a public address when checked and to 127.0.0.1 a moment later
 * (DNS rebinding) cannot slip through: there is no second resolution to rebind.
 */
function checkedLookup(hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '');
    const refused = addresses.find((a) => isSpecialUseAddress(a.address));
    if (refused || addresses.length === 0) {
      const error = new OutboundError('ERR_OUTBOUND_REFUSED_ADDRESS', `${hostname} resolves to a special-use address`) as OutboundError & NodeJS.ErrnoException;
      return callback(error, '');
    }
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}

/** The first OutboundError, or undici/Node error code, in an error's cause chain. */
function rootCause(err: unknown): { outbound?: OutboundError; code?: string; name?: string } {
  for (let e = err as { cause?: unknown; code?: unknown; name?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e instanceof OutboundError) return { outbound: e };
    if (typeof e.code === 'string' && e.code !== 'UND_ERR_ABORTED') return { code: e.code, name: String(e.name) };
    if (e.name === 'TimeoutError') return { name: 'TimeoutError' };
  }
  return { name: (err as Error)?.name };
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'ENODATA']);

/**
 * Every request Latch sends to a URL someone registered (back-channel logout, Shared Signals push):
 * a POST with a timeout on the whole exchange, no redirect followed (a 3xx is an answer, not a
 * hop), at most `maxResponseBytes` of the answer read, `User-Agent: Latch`, and the SSRF rule:
 * unless the URL is the operator's own or `allowPrivateNetworks` is set, a target that is or
 * resolves to a special-use address (special-use-address.ts) is refused before any byte is sent,
 * checked on the resolved address the socket then uses. Failures are OutboundErrors with a stable
 * `code`; nothing here logs.
 */
export class Outbound {
  readonly #allowPrivate: boolean;
  readonly #operatorUrls: Set<string>;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  /** Two pools: one whose connections are checked, one for targets that may be private. */
  readonly #checked: Agent;
  readonly #trusted: Agent;

  constructor(options: OutboundOptions) {
    this.#allowPrivate = options.allowPrivateNetworks;
    this.#operatorUrls = new Set([...(options.operatorUrls ?? [])].map((u) => new URL(u).href));
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#maxResponseBytes = options.maxResponseBytes ?? 64 * 1024;
    const pool = { keepAliveTimeout: 10_000, connections: 16 };
    this.#checked = new Agent({ ...pool, connect: { timeout: this.#timeoutMs, lookup: checkedLookup } });
    this.#trusted = new Agent({ ...pool, connect: { timeout: this.#timeoutMs } });
  }

  /** Whether `url` may reach a private address: the operator's own, or every URL when allowed. */
  #mayBePrivate(url: URL): boolean {
    return this.#allowPrivate || this.#operatorUrls.has(url.href);
  }

  #target(raw: string): { url: URL; agent: Agent } {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new OutboundError('ERR_OUTBOUND_INVALID_URL', 'not an absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OutboundError('ERR_OUTBOUND_INVALID_URL', `${url.protocol} is not http or https`);
    if (url.username || url.password) throw new OutboundError('ERR_OUTBOUND_INVALID_URL', `${url.origin}: a URL must not carry credentials`);
    if (this.#mayBePrivate(url)) return { url, agent: this.#trusted };
    // An address literal never reaches the lookup hook: check it here.
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && isSpecialUseAddress(host)) throw new OutboundError('ERR_OUTBOUND_REFUSED_ADDRESS', `${url.origin} is a special-use address`);
    return { url, agent: this.#checked };
  }

  /** POSTs `body` to `url`; resolves with any HTTP answer (the caller judges the status), rejects with an OutboundError. */
  async sendPost(url: string, options: PostOptions): Promise<OutboundResponse> {
    const target = this.#target(url);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    try {
      const response = await request(target.url, {
        dispatcher: target.agent,
        method: 'POST',
        headers: { ...options.headers, 'content-type': options.contentType, 'user-agent': USER_AGENT },
        body: options.body,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const { body, truncated } = await this.#read(response.body);
      return { status: response.statusCode, headers: response.headers, body, truncated };
    } catch (err) {
      throw this.#explain(err, target.url.origin, timeoutMs);
    }
  }

  async #read(stream: AsyncIterable<Buffer> & { destroy(): void }): Promise<{ body: string; truncated: boolean }> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream) {
      chunks.push(chunk.subarray(0, Math.max(0, this.#maxResponseBytes - size)));
      size += chunk.length;
      if (size > this.#maxResponseBytes) {
        stream.destroy();
        return { body: Buffer.concat(chunks).toString('utf8'), truncated: true };
      }
    }
    return { body: Buffer.concat(chunks).toString('utf8'), truncated: false };
  }

  #explain(err: unknown, origin: string, timeoutMs: number): OutboundError {
    const { outbound, code, name } = rootCause(err);
    if (outbound) return new OutboundError(outbound.code, `${origin}: ${outbound.message}`);
    if (name === 'TimeoutError' || (code && TIMEOUT_CODES.has(code))) return new OutboundError('ERR_OUTBOUND_TIMEOUT', `${origin}: no answer within ${timeoutMs} ms`);
    if (code && DNS_CODES.has(code)) return new OutboundError('ERR_OUTBOUND_DNS', `${origin}: the host name does not resolve (${code})`);
    return new OutboundError('ERR_OUTBOUND_CONNECTION', `${origin}: ${code ?? name ?? 'connection failed'}`);
  }

  /** Closes the connection pools (at shutdown). */
  async close(): Promise<void> {
    await Promise.all([this.#checked.close(), this.#trusted.close()]);
  }
}
