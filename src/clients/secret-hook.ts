import type Provider from 'oidc-provider';
import type { ClientRegistry } from './client-registry.js';

interface ClientPrototype {
  compareClientSecret(this: { clientId: string }, actual: string): Promise<boolean> | boolean;
  checkClientSecretExpiration(this: { clientId: string }, message: string, errorOverride?: string): void;
}

/**
 * Makes oidc-provider check client secrets with Latch's one secret check (ClientSecrets.verify).
 *
 * oidc-provider authenticates a `client_secret_basic`/`client_secret_post` client in
 * lib/shared/client_auth.js with two `Client` methods: `checkClientSecretExpiration` (refuses when
 * the metadata's `client_secret_expires_at` passed) and then `await compareClientSecret(secret)`
 * (a constant-time comparison with the metadata's `client_secret`). A managed client's metadata has
 * no secret, only a stand-in (client-adapter.ts), so the comparison must be Latch's: both methods
 * live on `Client.prototype` (lib/models/client.js), which is the one hook every endpoint that
 * takes a secret goes through (`/token`, `/revoke`, `/request`), for config clients and managed
 * ones alike; `/introspect` calls the same check itself. Expiry is part of that check (the current
 * secret's `expires_at`, the previous secret's grace period), so the expiration step becomes a
 * no-op: its other callers check secrets used as HMAC keys (client_secret_jwt, HS256 request
 * objects, JARM), none of which Latch enables (configuration.ts `enabledJWA`).
 */
export function checkSecretsWithLatch(provider: Provider, registry: ClientRegistry): void {
  const prototype = (provider.Client as unknown as { prototype: ClientPrototype }).prototype;
  prototype.compareClientSecret = async function compareClientSecret(actual) {
    return (await registry.verifySecret(this.clientId, actual)) !== undefined;
  };
  prototype.checkClientSecretExpiration = function checkClientSecretExpiration() {};
}
