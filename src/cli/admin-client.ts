import type { DpopSigner } from './dpop-key.js';
import { printable } from './format.js';

/**
 * A thin HTTP client of Latch's admin API (the CLI never touches Redis): it gets an access token
 * with the client-credentials grant and calls /admin/*.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface ClientSettings {
  url: string;
  clientId: string;
  clientSecret: string;
  /** DPoP (RFC 9449): the admin token is bound to this key, and every call proves it. */
  dpop?: DpopSigner;
}

/** Whether a response asks for a DPoP nonce (RFC 9449 §8: 400 at /token, §9: 401 at an API). */
function wantsNonce(response: Response, body: { error?: string }): boolean {
  return response.headers.has('dpop-nonce') && (body.error === 'use_dpop_nonce' || /error="use_dpop_nonce"/.test(response.headers.get('www-authenticate') ?? ''));
}

export class AdminClient {
  #token: { value: string; scheme: 'Bearer' | 'DPoP' } | undefined;
  /** The last DPoP-Nonce Latch sent (one server: /token and the admin API share it, or say a new one). */
  #nonce: string | undefined;

  constructor(private readonly settings: ClientSettings) {}

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      const response = await fetch(new URL(path, this.settings.url), { ...init, signal: AbortSignal.timeout(30_000) });
      this.#nonce = response.headers.get('dpop-nonce') ?? this.#nonce;
      return response;
    } catch (err) {
      throw new CliError(printable(`cannot reach Latch at ${this.settings.url}: ${(err as Error).cause ? String(((err as Error).cause as Error).message) : (err as Error).message}`), 3);
    }
  }

  /** The htu of a request: its URL without query (RFC 9449 §4.2). */
  #htu(path: string): string {
    const url = new URL(path, this.settings.url);
    return `${url.origin}${url.pathname}`;
  }

  /** Sends a request, with a fresh DPoP proof when there is a key; once more with Latch's nonce when it asks for one. */
  async #send(path: string, init: { method: string; headers: Record<string, string>; body?: string | undefined }, token?: string): Promise<{ response: Response; body: Record<string, unknown> }> {
    const { dpop } = this.settings;
    for (let attempt = 0; ; attempt++) {
      const headers = { ...init.headers };
      if (dpop) headers.dpop = await dpop.proof(init.method, this.#htu(path), { token, nonce: this.#nonce });
      const response = await this.#fetch(path, { ...init, headers });
      const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
      if (dpop && attempt === 0 && wantsNonce(response, body)) continue;
      return { response, body };
    }
  }

  /** Asks for both admin scopes; a read-only client (invalid_scope) falls back to admin:read. */
  async #accessToken(): Promise<{ value: string; scheme: 'Bearer' | 'DPoP' }> {
    this.#token ??= await this.#requestToken('admin:read admin:write').catch(async (err: unknown) => {
      if (err instanceof CliError && err.message.includes('invalid_scope')) return this.#requestToken('admin:read');
      throw err;
    });
    return this.#token;
  }

  async #requestToken(scope: string): Promise<{ value: string; scheme: 'Bearer' | 'DPoP' }> {
    const { clientId, clientSecret } = this.settings;
    const { response, body } = await this.#send('/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: 'urn:latch:admin', scope }).toString(),
    });
    const { access_token: token, token_type: type, error, error_description: description } = body as { access_token?: string; token_type?: string; error?: string; error_description?: string };
    if (!response.ok || !token) {
      throw new CliError(printable(`cannot get an admin token for client "${clientId}": ${error ?? response.status} ${description ?? ''}`.trim()), 1);
    }
    // The token type Latch answers is the scheme to use (RFC 9449 §5: DPoP when it bound the token).
    const scheme = String(type).toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    if (this.settings.dpop && scheme !== 'DPoP') throw new CliError(`Latch did not bind the admin token to the DPoP key (token_type ${printable(String(type))})`, 1);
    return { value: token, scheme };
  }

  /** Calls the admin API with a JSON body, or with `body` as it is when `contentType` is given (JSON lines). */
  async call<T = Record<string, unknown>>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, contentType?: string): Promise<T> {
    const token = await this.#accessToken();
    const { response, body: answer } = await this.#send(
      path,
      {
        method,
        headers: { authorization: `${token.scheme} ${token.value}`, ...(body === undefined ? {} : { 'content-type': contentType ?? 'application/json' }) },
        body: body === undefined ? undefined : contentType ? String(body) : JSON.stringify(body),
      },
      token.scheme === 'DPoP' ? token.value : undefined,
    );
    const json = answer as T & { error?: string; error_description?: string };
    if (!response.ok) {
      const what = json.error_description ?? json.error ?? `HTTP ${response.status}`;
      throw new CliError(printable(`${method} ${path} failed (${response.status}): ${what}`), 1);
    }
    return json;
  }
}
