import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { clientAuthentication, type ClientCredentials } from './client-auth.js';
import type { ClientAuthOptions } from './options.js';
import { HttpClient, type HttpResult } from './http-client.js';

const AUDIENCE = 'urn:latch:ssf';

/** What the resource server needs of Latch's transmitter metadata (SSF §7.1) and discovery. */
export interface Transmitter {
  configuration: string;
  status: string;
  verification: string;
  token: string;
  keys: JWTVerifyGetKey;
}

/** Latch could not be asked, or answered something unusable: the stream is not known healthy. */
export class Unavailable extends Error {}

/**
 * The resource server as an SSF receiver talking to Latch: discovery (the transmitter metadata
 * and the token endpoint, both checked to name the issuer), a client-credentials token for
 * `urn:latch:ssf` kept until shortly before it expires, and management calls with it.
 */
export class TransmitterClient {
  readonly #issuer: string;
  readonly #http: HttpClient;
  readonly #credentials: (audience: string) => Promise<ClientCredentials>;
  readonly #signal: AbortSignal;
  #transmitter: Promise<Transmitter> | undefined;
  #token: { value: string; until: number } | undefined;

  constructor(issuer: string, client: ClientAuthOptions, timeoutMs: number, signal: AbortSignal) {
    this.#issuer = issuer;
    this.#http = new HttpClient(timeoutMs, 4);
    this.#credentials = clientAuthentication(client);
    this.#signal = signal;
  }

  /** Discovered once; a failed discovery is forgotten so the next call tries again. */
  discover(): Promise<Transmitter> {
    this.#transmitter ??= (async () => {
      const [ssf, oidc] = await Promise.all([
        this.#http.send(`${this.#issuer}/.well-known/ssf-configuration`, { method: 'GET', headers: {} }),
        this.#http.send(`${this.#issuer}/.well-known/openid-configuration`, { method: 'GET', headers: {} }),
      ]);
      const meta = ssf.json as Record<string, unknown> | undefined;
      const oauth = oidc.json as Record<string, unknown> | undefined;
      if (ssf.status !== 200 || !meta || oidc.status !== 200 || !oauth) throw new Unavailable(`discovery answered ${ssf.status} / ${oidc.status}`);
      // SSF §7.2.3: the metadata's issuer is the one asked.
      if (meta.issuer !== this.#issuer || oauth.issuer !== this.#issuer) throw new Unavailable('discovery names another issuer');
      for (const field of ['configuration_endpoint', 'status_endpoint', 'verification_endpoint', 'jwks_uri'] as const) {
        if (typeof meta[field] !== 'string') throw new Unavailable(`the transmitter metadata has no ${field}`);
      }
      if (typeof oauth.token_endpoint !== 'string') throw new Unavailable('discovery has no token_endpoint');
      return {
        configuration: meta.configuration_endpoint as string,
        status: meta.status_endpoint as string,
        verification: meta.verification_endpoint as string,
        token: oauth.token_endpoint,
        keys: createRemoteJWKSet(new URL(meta.jwks_uri as string)),
      };
    })().catch((err: unknown) => {
      this.#transmitter = undefined;
      throw err;
    });
    return this.#transmitter;
  }

  /** A client-credentials token for `urn:latch:ssf` (RFC 6749 §4.4), scope `ssf.manage`. */
  async #accessToken(t: Transmitter): Promise<string> {
    if (this.#token && this.#token.until > Date.now()) return this.#token.value;
    const credentials = await this.#credentials(this.#issuer);
    const form = new URLSearchParams({ grant_type: 'client_credentials', scope: 'ssf.manage', resource: AUDIENCE, ...credentials.form });
    const { status, json } = await this.#http.send(t.token, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...credentials.headers }, body: form.toString() });
    const answer = json as { access_token?: unknown; expires_in?: unknown; error?: unknown } | undefined;
    if (status !== 200 || typeof answer?.access_token !== 'string') {
      throw new Unavailable(`token endpoint answered ${status}${typeof answer?.error === 'string' ? ` ${answer.error}` : ''}`);
    }
    const lifetime = typeof answer.expires_in === 'number' ? answer.expires_in : 60;
    this.#token = { value: answer.access_token, until: Date.now() + Math.max(lifetime - 30, lifetime / 2) * 1000 };
    return this.#token.value;
  }

  /** A management call with the token (a 401 drops the token and tries once more with a new one). */
  async call(url: string, method: 'GET' | 'POST' | 'DELETE', body?: unknown, http = this.#http, retried = false): Promise<HttpResult> {
    const token = await this.#accessToken(await this.discover());
    const result = await http.send(url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: this.#signal,
    });
    if (result.status === 401 && !retried) {
      this.#token = undefined;
      return this.call(url, method, body, http, true);
    }
    return result;
  }

  /** SSF §8.1.1.5, at close (after the signal aborted the rest). */
  async deleteStream(streamId: string): Promise<void> {
    const t = await this.#transmitter;
    if (!t) return;
    const token = await this.#accessToken(t);
    await this.#http.send(`${t.configuration}?stream_id=${encodeURIComponent(streamId)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  }

  close(): Promise<void> {
    return this.#http.close();
  }
}
