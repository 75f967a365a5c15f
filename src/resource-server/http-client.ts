import { Agent, request } from 'undici';
import { IntrospectionUnavailable } from './errors.js';

/** Latch's answers are small; anything past this is not an introspection response. */
const MAX_BODY_BYTES = 256 * 1024;

export interface HttpResult {
  status: number;
  json: unknown;
  /** `Retry-After` in whole seconds when the server sent one (e.g. Latch's 429 and 503). */
  retryAfterSeconds?: number;
}

/**
 * A keep-alive connection pool (undici) with every phase bounded by `timeoutMs`: connecting,
 * waiting for headers, reading the body, and the whole exchange. Any failure is a 503
 * (IntrospectionUnavailable): a resource server that cannot ask Latch must not let requests through.
 */
export class HttpClient {
  readonly #agent: Agent;
  readonly #timeoutMs: number;

  constructor(timeoutMs: number, connections: number) {
    this.#timeoutMs = timeoutMs;
    this.#agent = new Agent({
      connections,
      keepAliveTimeout: 30_000,
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  async send(url: string, init: { method: 'GET' | 'POST' | 'DELETE'; headers: Record<string, string>; body?: string; signal?: AbortSignal }): Promise<HttpResult> {
    let status: number;
    let retryAfter: unknown;
    let text = '';
    try {
      const response = await request(url, {
        dispatcher: this.#agent,
        method: init.method,
        headers: { accept: 'application/json', ...init.headers },
        body: init.body,
        signal: init.signal ? AbortSignal.any([AbortSignal.timeout(this.#timeoutMs), init.signal]) : AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.statusCode;
      retryAfter = response.headers['retry-after'];
      let size = 0;
      const decoder = new TextDecoder();
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          response.body.destroy();
          throw new Error('response body too large');
        }
        text += decoder.decode(chunk, { stream: true });
      }
      text += decoder.decode();
    } catch (err) {
      // Only the error's code and message travel on: the request body (the token) never does.
      const cause = err as { code?: string; name?: string; message?: string };
      throw new IntrospectionUnavailable(undefined, { cause: new Error(`${cause.code ?? cause.name ?? 'Error'}: ${cause.message ?? ''}`) });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const seconds = typeof retryAfter === 'string' && /^\d{1,6}$/.test(retryAfter) ? Number(retryAfter) : undefined;
    return { status, json, ...(seconds === undefined ? {} : { retryAfterSeconds: seconds }) };
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
