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
}

export class AdminClient {
  #token: string | undefined;

  constructor(private readonly settings: ClientSettings) {}

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(new URL(path, this.settings.url), { ...init, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new CliError(printable(`cannot reach Latch at ${this.settings.url}: ${(err as Error).cause ? String(((err as Error).cause as Error).message) : (err as Error).message}`), 3);
    }
  }

  /** Asks for both admin scopes; a read-only client (invalid_scope) falls back to admin:read. */
  async #accessToken(): Promise<string> {
    this.#token ??= await this.#requestToken('admin:read admin:write').catch(async (err: unknown) => {
      if (err instanceof CliError && err.message.includes('invalid_scope')) return this.#requestToken('admin:read');
      throw err;
    });
    return this.#token;
  }

  async #requestToken(scope: string): Promise<string> {
    const { clientId, clientSecret } = this.settings;
    const response = await this.#fetch('/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: 'urn:latch:admin', scope }),
    });
    const body = (await response.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
    if (!response.ok || !body.access_token) {
      throw new CliError(printable(`cannot get an admin token for client "${clientId}": ${body.error ?? response.status} ${body.error_description ?? ''}`.trim()), 1);
    }
    return body.access_token;
  }

  /** Calls the admin API with a JSON body, or with `body` as it is when `contentType` is given (JSON lines). */
  async call<T = Record<string, unknown>>(method: 'GET' | 'POST' | 'PUT' | 'PATCH', path: string, body?: unknown, contentType?: string): Promise<T> {
    const token = await this.#accessToken();
    const response = await this.#fetch(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': contentType ?? 'application/json' }) },
      body: body === undefined ? undefined : contentType ? String(body) : JSON.stringify(body),
    });
    const json = (await response.json().catch(() => ({}))) as T & { error?: string; error_description?: string };
    if (!response.ok) {
      const what = json.error_description ?? json.error ?? `HTTP ${response.status}`;
      throw new CliError(printable(`${method} ${path} failed (${response.status}): ${what}`), 1);
    }
    return json;
  }
}
