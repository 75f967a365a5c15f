import { createServer } from 'node:http';
import { generateKeyPair } from 'jose';
import { ResourceServer } from 'latch/resource-server';
import { createGateway } from './gateway.js';
import { createInternalService } from './internal-service.js';

/**
 * `npm run example:jwt-gateway`: the gateway on PORT (public) and the internal service on
 * 127.0.0.1:INTERNAL_PORT (private side). A fresh signing key per start; the internal service
 * fetches it from the gateway's JWKS.
 */
const port = Number(process.env.PORT ?? 4100);
const internalPort = Number(process.env.INTERNAL_PORT ?? 4101);
const gatewayUrl = process.env.GATEWAY_URL ?? `http://localhost:${port}`;
const audience = 'urn:example:internal-orders';

const internal = createServer(createInternalService({ jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`, issuer: gatewayUrl, audience }).callback());
internal.listen(internalPort, '127.0.0.1');

const { privateKey, publicKey } = await generateKeyPair('ES256');
const resourceServer = new ResourceServer({
  issuer: process.env.LATCH_ISSUER ?? 'http://localhost:3000',
  client: { clientId: process.env.API_CLIENT_ID ?? 'orders-api', clientSecret: process.env.API_CLIENT_SECRET ?? 'orders-api-secret-change-me-0123456789abc' },
  audience: process.env.API_AUDIENCE ?? 'https://orders.api.example',
  realm: 'gateway',
});
const gateway = await createGateway({
  resourceServer,
  issuer: gatewayUrl,
  internalUrl: `http://127.0.0.1:${internalPort}`,
  internalAudience: audience,
  signingKey: { privateKey, publicKey, kid: `gw-${Date.now()}` },
});
const server = createServer(gateway.callback());
server.listen(port, () => process.stdout.write(`gateway on ${gatewayUrl} → internal service on http://127.0.0.1:${internalPort}\n`));
const stop = () => {
  server.close();
  internal.close();
  void resourceServer.close();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
