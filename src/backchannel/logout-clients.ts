import type Provider from 'oidc-provider';

/** What back-channel logout needs of a client. */
export interface LogoutClient {
  clientId: string;
  uri: string;
  sessionRequired: boolean;
  /** The alg of its ID tokens: its logout tokens are signed alike. */
  alg?: string;
}

/**
 * The clients that registered a `backchannel_logout_uri`, read from oidc-provider's client
 * metadata (`Client.find`), so a client registered at run time is covered as one from the config.
 */
export class LogoutClients {
  readonly #provider: Provider;

  constructor(provider: Provider) {
    this.#provider = provider;
  }

  /** The client's back-channel logout registration, or undefined (no such client, or no URI). */
  async find(clientId: string): Promise<LogoutClient | undefined> {
    // A failed lookup (a client store that is down) throws: never read as "no URI", which would give a delivery up.
    const client = (await this.#provider.Client.find(clientId)) as
      | { backchannelLogoutUri?: string; backchannelLogoutSessionRequired?: boolean; idTokenSignedResponseAlg?: string }
      | undefined;
    if (!client?.backchannelLogoutUri) return undefined;
    return {
      clientId,
      uri: client.backchannelLogoutUri,
      sessionRequired: client.backchannelLogoutSessionRequired === true,
      alg: client.idTokenSignedResponseAlg,
    };
  }

  /** `find` for many, each client looked up once. */
  async findAll(clientIds: Iterable<string>): Promise<Map<string, LogoutClient>> {
    const unique = [...new Set(clientIds)];
    const found = await Promise.all(unique.map((id) => this.find(id)));
    return new Map(found.filter((c): c is LogoutClient => c !== undefined).map((c) => [c.clientId, c]));
  }
}
