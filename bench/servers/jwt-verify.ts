import { createServer } from 'node:http';
import { importJWK, jwtVerify, type JWK } from 'jose';
import { listenAndReport, serverOptions } from './serve.js';

/**
 * The self-contained-token reference: the same request shape as introspection (form body with
 * `token`), answered by verifying an RS256 JWT locally with jose. What a resource server pays per
 * request when it does not ask the authorization server at all.
 */
const { publicJwk, issuer, audience } = serverOptions<{ publicJwk: JWK; issuer: string; audience: string }>();
const key = await importJWK(publicJwk, 'RS256');

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token') ?? '';
    jwtVerify(token, key, { issuer, audience, algorithms: ['RS256'] }).then(
      ({ payload }) => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ active: true, ...payload }));
      },
      () => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end('{"active":false}');
      },
    );
  });
});

await listenAndReport(server);
