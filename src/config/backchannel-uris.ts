import { ConfigError } from './config-error.js';
import type { LatchFileConfig } from './schema.js';

/** A host on this machine: `localhost`, 127.0.0.0/8 or [::1]. */
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Production: a logout token is a bearer statement about a user's session, so it travels over TLS
 * (OIDC Back-Channel Logout 1.0 §2.2 lets the OP decide whether to allow http). Plain http is left
 * for an app on this very machine, where nothing crosses a network.
 */
export function refuseInsecureBackchannelUris(file: LatchFileConfig, source: string): void {
  file.clients.forEach((client, i) => {
    const uri = client.backchannel_logout_uri;
    if (!uri) return;
    const url = new URL(uri);
    if (url.protocol === 'http:' && !LOOPBACK_HOST.test(url.hostname)) {
      throw new ConfigError(`${source}: clients[${i}].backchannel_logout_uri`, 'must be https when NODE_ENV=production (http only for a loopback host)');
    }
  });
}
