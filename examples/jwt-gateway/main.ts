import { createServer } from 'node:http';
import { ResourceServer } from 'latch/resource-server';
import { createGateway } from './gateway.js';
import { createInternalService } from './internal-service.js';

/**
 * `npm run example:jwt-gateway`: the gateway on PORT (public) and the internal service on
 * 127.0.0.1:INTERNAL_PORT (private side). The gateway exchanges each opaque token at Latch for a
 * JWT (token exchange, RFC 8693); the internal service verifies it against Latch's /jwks.
 * Defaults match config/demo.json (client `orders-api`, audience `urn:example:internal-orders`).
 */
const port = Number(process.env.PORT ?? 4100);
const internalPort = Number(process.env.INTERNAL_PORT ?? 4101);
const issuer = process.env.LATCH_ISSUER ?? 'http://localhost:3000';
const audience = process.env.INTERNAL_AUDIENCE ?? 'urn:example:internal-orders';
const clientId = process.env.API_CLIENT_ID ?? 'orders-api';
const clientSecret = process.env.API_CLIENT_SECRET ?? 'orders-api-secret-change-me-0123456789abc';

const internal = createServer(createInternalService({ jwksUrl: `${issuer}/jwks`, issuer, audience }).callback());
internal.listen(internalPort, '127.0.0.1');

const resourceServer = new ResourceServer({
  issuer,
  client: { clientId, clientSecret },
  audience: process.env.API_AUDIENCE ?? 'https://orders.api.example',
  realm: 'gateway',
});
const gateway = await createGateway({
  resourceServer,
  latch: { issuer, clientId, clientSecret },
  internalUrl: `http://127.0.0.1:${internalPort}`,
  internalAudience: audience,
});
const server = createServer(gateway.callback());
server.listen(port, () => process.stdout.write(`gateway on http://localhost:${port} → internal service on http://127.0.0.1:${internalPort}\n`));
const stop = () => {
  server.close();
  internal.close();
  void resourceServer.close();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
