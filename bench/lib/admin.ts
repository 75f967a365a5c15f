import { ADMIN_API, CLIENTS } from './bench-config.js';
import { clientCredentials } from './oauth.js';

/**
 * The kill switch as an admin client calls it: `POST /admin/accounts/{username}/revoke` with a
 * client-credentials token for the admin API (docs/admin-api.md).
 */
export class AdminClient {
  readonly #issuer: string;
  readonly #token: string;

  private constructor(issuer: string, token: string) {
    this.#issuer = issuer;
    this.#token = token;
  }

  /** An admin client, or the reason the kill switch cannot be measured on this Latch. */
  static async connect(issuer: string): Promise<AdminClient | { unavailable: string }> {
    let token: string;
    try {
      token = await clientCredentials(issuer, CLIENTS.admin, 'admin:write', ADMIN_API);
    } catch (err) {
      return { unavailable: `no admin token: ${(err as Error).message.slice(0, 120)}` };
    }
    const admin = new AdminClient(issuer, token);
    // An unknown user: a mounted admin API answers JSON (404 or 2xx); an unmounted path gets
    // Koa's plain "Not Found".
    const probe = await admin.#post('bench-probe-nobody');
    if (!(probe.headers.get('content-type') ?? '').includes('json')) {
      return { unavailable: `admin endpoint POST /admin/accounts/{username}/revoke not mounted (HTTP ${probe.status}, not JSON)` };
    }
    return admin;
  }

  #post(username: string): Promise<Response> {
    return fetch(`${this.#issuer}/admin/accounts/${encodeURIComponent(username)}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'benchmark' }),
    });
  }

  /** Revokes everything of `username`; resolves when Latch answered 2xx. */
  async revokeAccount(username: string): Promise<void> {
    const response = await this.#post(username);
    const text = await response.text();
    if (!response.ok) throw new Error(`revoke ${username} failed (${response.status}): ${text.slice(0, 200)}`);
  }
}
