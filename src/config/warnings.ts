import type { LatchConfig } from './load.js';

export interface ConfigWarning {
  field: string;
  message: string;
}

/**
 * Characters a client secret can hold that every client sends intact. RFC 6749 §2.3.1 wants the
 * id and secret form-encoded before they go into the Basic header, and Latch decodes them so;
 * several widely used clients (requests' and authlib's Basic auth, token-introspection,
 * @badgateway/oauth2-client by default) put the raw secret there instead, and then `+` arrives
 * as a space, `%xx` as another character, and so on. base64url and hex use only these.
 */
const SAFE_SECRET = /^[A-Za-z0-9._~-]*$/;

/**
 * What looks wrong but still works, logged once at start-up (app.ts): problems that would stop
 * the server are ConfigErrors instead.
 */
export function configWarnings(config: LatchConfig): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  config.file.clients.forEach((client, i) => {
    const secret = client.client_secret;
    if (secret === undefined || SAFE_SECRET.test(secret)) return;
    const odd = [...new Set([...secret].filter((c) => !SAFE_SECRET.test(c)))].map((c) => JSON.stringify(c)).join(' ');
    warnings.push({
      field: `clients[${i}].client_secret`,
      message:
        `the secret of client "${client.client_id}" contains ${odd}: clients that put the raw secret into the Basic header ` +
        '(without the form-encoding RFC 6749 §2.3.1 asks for) send it mangled and are refused. Use a base64url or hex secret (e.g. openssl rand -hex 32)',
    });
  });
  const audiences = new Set(config.file.resourceServers.map((rs) => rs.audience));
  config.file.clients.forEach((client, i) => {
    client.resources.forEach((aud, j) => {
      if (audiences.has(aud)) return;
      warnings.push({
        field: `clients[${i}].resources[${j}]`,
        message: `no resource server in the config has audience "${aud}": client "${client.client_id}" gets tokens for it only while an API with that audience is registered through the admin API (/admin/apis)`,
      });
    });
  });
  if (config.production && config.issuer.startsWith('https:') && config.trustedProxies === 0) {
    warnings.push({
      field: 'LATCH_TRUSTED_PROXIES',
      message:
        'the issuer is https but Latch serves plain http and trusts no proxy: if a TLS proxy stands in front of it, set LATCH_TRUSTED_PROXIES ' +
        'to the number of proxies, or every caller has the proxy’s address (rate limits, login throttling, impossible travel). ' +
        'Cookies are Secure in production either way',
    });
  }
  return warnings;
}
