import { ClientRecords } from '../../adapters/redis/client-records.js';
import { RedisKeys } from '../../adapters/redis/keys.js';
import type { RedisStore } from '../../adapters/redis/redis-store.js';
import { ClientRegistry } from '../../src/clients/client-registry.js';
import { ClientSecrets } from '../../src/clients/client-secrets.js';
import type { ClientConfig } from '../../src/config/schema.js';
import { InvalidClient, InvalidRequest } from '../../src/errors/oauth-error.js';
import { ClientAuthenticator } from '../../src/introspection/client-authenticator.js';

const CLIENTS = [
  { client_id: 'api', client_secret: 'api-secret', token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [], post_logout_redirect_uris: [] },
  { client_id: 'other', client_secret: 'other-secret', token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [], post_logout_redirect_uris: [] },
] as unknown as ClientConfig[];

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

function authenticator() {
  // Secrets only: no assertion reaches the store.
  // Config clients only: the registry never reads Redis for them.
  const store = {} as RedisStore;
  const registry = new ClientRegistry(CLIENTS, new ClientRecords(store), new ClientSecrets(new RedisKeys(Buffer.alloc(32, 'k'))));
  return new ClientAuthenticator(registry, { issuer: 'https://latch.test', store });
}

describe('ClientAuthenticator with a Basic header it has verified before', () => {
  it('authenticates the same header again', async () => {
    const auth = authenticator();
    for (let i = 0; i < 3; i++) {
      await expect(auth.authenticate(basic('api', 'api-secret'), {})).resolves.toEqual({ clientId: 'api', method: 'client_secret_basic' });
    }
  });

  it('still refuses a body naming another client than the header', async () => {
    const auth = authenticator();
    await auth.authenticate(basic('api', 'api-secret'), {});
    await expect(auth.authenticate(basic('api', 'api-secret'), { client_id: 'other' })).rejects.toThrow(InvalidRequest);
    await expect(auth.authenticate(basic('api', 'api-secret'), { client_id: 'api' })).resolves.toMatchObject({ clientId: 'api' });
  });

  it('never remembers a wrong secret', async () => {
    const auth = authenticator();
    await auth.authenticate(basic('api', 'api-secret'), {});
    for (let i = 0; i < 2; i++) await expect(auth.authenticate(basic('api', 'wrong'), {})).rejects.toThrow(InvalidClient);
  });

  it('works as before once forgetVerified cleared what it remembered', async () => {
    const auth = authenticator();
    await auth.authenticate(basic('api', 'api-secret'), {});
    auth.forgetVerified();
    await expect(auth.authenticate(basic('api', 'wrong'), {})).rejects.toThrow(InvalidClient);
    await expect(auth.authenticate(basic('api', 'api-secret'), {})).resolves.toMatchObject({ clientId: 'api' });
  });

  it('stays bounded: past MAX_VERIFIED headers it starts over and every header still authenticates', async () => {
    const auth = authenticator();
    // Distinct headers of one client: Basic credentials are form-encoded, so any character may be
    // sent percent-encoded (RFC 6749 §2.3.1); 13 characters give 8192 spellings.
    const spell = (text: string, bits: number) => [...text].map((c, i) => ((bits >> i) & 1 ? `%${c.charCodeAt(0).toString(16)}` : c)).join('');
    const headers = Array.from({ length: ClientAuthenticator.MAX_VERIFIED + 10 }, (_, i) => basic(spell('api', i), spell('api-secret', i >> 3)));
    for (const header of headers) await expect(auth.authenticate(header, {})).resolves.toMatchObject({ clientId: 'api' });
  });
});
