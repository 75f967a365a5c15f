import { IntrospectionUnavailable } from './errors.js';
import type { HttpClient } from './http-client.js';

export interface Endpoint {
  /** Where to POST tokens (RFC 7662 §2). */
  introspection: string;
  /** The audience of private_key_jwt assertions: the issuer (options require it for that method). */
  assertionAudience: string;
}

/**
 * Reads Latch's discovery document (OpenID Connect Discovery, then RFC 8414) for the
 * introspection endpoint. The `issuer` in the document must be the configured one (RFC 8414 §3.3).
 */
export async function discover(http: HttpClient, issuer: string): Promise<Endpoint> {
  for (const wellKnown of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    const { status, json } = await http.send(`${issuer}${wellKnown}`, { method: 'GET', headers: {} });
    if (status === 404) continue;
    const metadata = json as { issuer?: unknown; introspection_endpoint?: unknown } | undefined;
    if (status !== 200 || !metadata) throw new IntrospectionUnavailable(`discovery at ${issuer} answered ${status}`);
    if (metadata.issuer !== issuer) throw new IntrospectionUnavailable(`discovery at ${issuer} names another issuer`);
    if (typeof metadata.introspection_endpoint !== 'string') throw new IntrospectionUnavailable(`${issuer} publishes no introspection_endpoint`);
    return { introspection: metadata.introspection_endpoint, assertionAudience: issuer };
  }
  throw new IntrospectionUnavailable(`no discovery document at ${issuer}`);
}
