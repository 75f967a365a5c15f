import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { API, API_SCOPE, CLIENTS } from '../lib/bench-config.js';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import { exampleApiName, resourceServerMissing } from '../lib/dependencies.js';
import { startLatch } from '../lib/latch.js';
import { measure, type LoadResult } from '../lib/load.js';
import { basic, clientCredentials } from '../lib/oauth.js';
import { loadCells, ratio, skippedRow, type Row } from '../lib/report.js';
import { startRsApi } from '../lib/rs-api.js';

const SECTION = 'DPoP';
/** Proofs are single use: the pool must outlast the run (warm-up included) at the fastest rate expected. */
const MAX_RPS = 15_000;

interface ProofKey {
  privateKey: CryptoKey;
  jwk: JWK;
}

const proofFor = (key: ProofKey, htm: string, htu: string, token?: string) =>
  new SignJWT({ htm, htu, ...(token ? { ath: createHash('sha256').update(token).digest('base64url') } : {}) })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk })
    .setJti(randomUUID())
    .setIssuedAt()
    .sign(key.privateKey);

/** A DPoP-bound client-credentials token from Latch's real token endpoint. */
async function boundToken(issuer: string, key: ProofKey): Promise<string> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(CLIENTS.svc), dpop: await proofFor(key, 'POST', `${issuer}/token`) },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: API_SCOPE, resource: API }),
  });
  const body = (await response.json()) as { access_token?: string; token_type?: string };
  if (response.status !== 200 || body.token_type !== 'DPoP' || !body.access_token) throw new Error(`DPoP client_credentials failed (${response.status}): ${JSON.stringify(body)}`);
  return body.access_token;
}

/**
 * The cost of DPoP at a resource server (issue 14, "Figures"): the example API under
 * latch/resource-server, which accepts both schemes, loaded with Bearer requests and then with
 * DPoP requests (a fresh single-use ES256 proof each, made before the run so the load generator
 * signs nothing while measuring), in the same run; once introspecting every call, once with the
 * revocation-aware cache, where the proof check is all that is left. Latch does the same work for
 * both: one introspection per call (or none, cached).
 */
export async function dpopScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const missing = resourceServerMissing();
  const api = exampleApiName();
  const modes = { introspect: 'introspecting every call', cached: 'revocation-aware cache' } as const;
  if (missing) {
    return { rows: Object.values(modes).flatMap((m) => [skippedRow(SECTION, `${api}, ${m}, Bearer`, missing), skippedRow(SECTION, `${api}, ${m}, DPoP`, missing)]), raw: { skipped: missing } };
  }
  const { redis, secrets, settings } = ctx;
  await redis.client.flushall();
  const latch = await startLatch(redis.url, secrets);
  try {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const key: ProofKey = { privateKey, jwk: await exportJWK(publicKey) };
    const bearer = await clientCredentials(latch.url, CLIENTS.svc, API_SCOPE, API);
    const bound = await boundToken(latch.url, key);
    const results: Record<string, LoadResult> = {};
    const rows: Row[] = [];
    for (const [mode, label] of Object.entries(modes) as Array<[keyof typeof modes, string]>) {
      const server = await startRsApi(ctx, mode, latch.url);
      try {
        const url = `${server.url}/orders`;
        ctx.log(`DPoP: ${api}, ${label}, Bearer`);
        const check = await fetch(url, { headers: { authorization: `Bearer ${bearer}` } });
        if (check.status !== 200) throw new Error(`${mode}: Bearer GET /orders answered ${check.status}`);
        const plain = await measure({ url, method: 'GET', headers: { authorization: `Bearer ${bearer}` }, accepted: (status) => status === 200 }, settings);

        const count = Math.ceil((settings.warmupS + settings.durationS) * MAX_RPS) + 1;
        ctx.log(`DPoP: signing ${count} single-use proofs (jkt ${await calculateJwkThumbprint(key.jwk)})`);
        const proofs: string[] = [];
        for (let i = 0; i < count; i++) proofs.push(await proofFor(key, 'GET', url, bound));
        const first = await fetch(url, { headers: { authorization: `DPoP ${bound}`, dpop: proofs.pop()! } });
        if (first.status !== 200) throw new Error(`${mode}: DPoP GET /orders answered ${first.status}: ${(await first.text()).slice(0, 200)}`);
        ctx.log(`DPoP: ${api}, ${label}, DPoP`);
        let next = 0;
        // Past the pool a proof is replayed: refused (401) and counted as rejected, never silently accepted.
        const dpop = await measure(
          { url, method: 'GET', headers: { authorization: `DPoP ${bound}` }, nextHeaders: () => ({ dpop: proofs[next++ % proofs.length]! }), accepted: (status) => status === 200 },
          settings,
        );
        results[`${mode}-bearer`] = plain;
        results[`${mode}-dpop`] = dpop;
        rows.push(
          { section: SECTION, name: `${api}, ${label}, Bearer`, ...loadCells(plain), vs: 'reference' },
          { section: SECTION, name: `${api}, ${label}, DPoP (ES256 proof per request)`, ...loadCells(dpop), vs: `${ratio(dpop.rps, plain.rps)}× Bearer` },
        );
      } finally {
        await server.close();
      }
    }
    return { rows, raw: results };
  } finally {
    await latch.close();
  }
}
