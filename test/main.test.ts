import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisCluster } from './support/redis-cluster.js';
import { freePort, startRedis, type TestRedis } from './support/redis-server.js';

/** `npm start` runs the compiled server; these tests run that same file as a real process. */
const MAIN = 'dist/src/main.js';
const dir = mkdtempSync(join(tmpdir(), 'latch-main-'));
let redis: TestRedis;

/** Starts the server process; its operations listener gets a free port of its own (`opsUrl`). */
async function run(env: Record<string, string>) {
  const opsPort = env.LATCH_OPS_PORT ?? String(await freePort());
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH!, LATCH_DEV_KEYS_FILE: join(dir, 'keys.json'), LATCH_OPS_PORT: opsPort, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr, opsUrl: `http://127.0.0.1:${opsPort}` };
}

/** Polls the operations listener's /readyz for up to 10 s. */
async function ready(proc: { opsUrl: string }): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${proc.opsUrl}/readyz`).then((r) => r.ok, () => false)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

beforeAll(async () => {
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  redis = await startRedis();
}, 120_000);
const running: Array<ReturnType<typeof spawn>> = [];
afterAll(async () => {
  running.forEach((child) => child.kill('SIGKILL'));
  await redis.close();
});

describe('the server process (npm start)', () => {
  it('serves discovery and readiness, seeds the demo accounts, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = await run({ PORT: String(port), REDIS_URL: redis.url, ISSUER: base });
    running.push(proc.child);
    expect(await ready(proc)).toBe(true);
    const discovery = await (await fetch(`${base}/.well-known/openid-configuration`)).json();
    expect(discovery).toMatchObject({
      issuer: `${base}`,
      introspection_endpoint: `${base}/introspect`,
      revocation_endpoint: `${base}/revoke`,
      code_challenge_methods_supported: ['S256'],
    });
    expect(proc.out()).toContain('DEVELOPMENT KEYS');
    expect(proc.out()).toContain('"created":2');
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.err()).not.toContain('Unsupported runtime');
  });

  /** The environment of a production start with keys and a config file of its own. */
  async function productionEnv(): Promise<Record<string, string>> {
    const { generateKeyPair, exportJWK } = await import('jose');
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const config = join(dir, 'production.json');
    writeFileSync(config, JSON.stringify({
      resourceServers: [{ audience: 'https://api.example.test', name: 'API', scopes: ['read'], introspectors: ['api'] }],
      clients: [
        { client_id: 'job', client_secret: '9f2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e', grant_types: ['client_credentials'], resources: ['https://api.example.test'] },
        { client_id: 'api', client_secret: '0a2c4e6f8b1d3f5a7c9e0b2d4f6a8c0e', grant_types: [] },
      ],
    }));
    return {
      NODE_ENV: 'production',
      REDIS_URL: redis.url,
      ISSUER: 'https://id.example.test',
      LATCH_CONFIG: config,
      LATCH_JWKS: JSON.stringify({ keys: [{ ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: 'p1' }] }),
      LATCH_COOKIE_KEYS: 'production-cookie-key-0123456789abcdef0',
      LATCH_TOKEN_HASH_KEY: 'production-token-hash-key-0123456789abc',
      LATCH_DPOP_NONCE_SECRET: 'production-dpop-nonce-secret-0123456789',
    };
  }

  it('starts in production mode with its own keys and config, as the container image runs it', async () => {
    const port = await freePort();
    const proc = await run({ ...(await productionEnv()), PORT: String(port) });
    running.push(proc.child);
    expect(await ready(proc)).toBe(true);
    expect(proc.out()).not.toContain('DEVELOPMENT KEYS');
    // https issuer, plain-http listener, no trusted proxy: said once at start-up.
    expect(proc.out().match(/"field":"LATCH_TRUSTED_PROXIES"/g)).toHaveLength(1);
    const jwks = (await (await fetch(`http://127.0.0.1:${port}/jwks`)).json()) as { keys: Array<{ kid: string; d?: string }> };
    expect(jwks.keys.map((k) => k.kid)).toEqual(['p1']);
    expect(jwks.keys[0]!.d).toBeUndefined();
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });

  it('finishes every request in flight on SIGTERM, then exits 0', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = await run({ PORT: String(port), REDIS_URL: redis.url, ISSUER: base, LOG_LEVEL: 'info' });
    running.push(proc.child);
    await ready(proc);
    const auth = `Basic ${Buffer.from('reports-api:reports-api-secret-change-me-0123456789ab').toString('base64')}`;
    // Redis pauses, so 20 introspections are held in flight inside Latch...
    await redis.client.client('PAUSE', 700, 'ALL');
    const inFlight = Array.from({ length: 20 }, () =>
      fetch(`${base}/introspect`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=abc' }).then(
        async (r) => [r.status, await r.text()] as const,
        (err: Error) => [0, err.message] as const,
      ),
    );
    await new Promise((r) => setTimeout(r, 250));
    // ...when SIGTERM arrives: every one of them is still answered.
    proc.child.kill('SIGTERM');
    const answers = await Promise.all(inFlight);
    expect(answers).toEqual(Array(20).fill([200, '{"active":false}']));
    expect(await proc.exited).toBe(0);
    expect(proc.out()).toContain('shutting down');
  });

  it('after SIGTERM answers busy keep-alive clients with Connection: close, closes each connection after its response, and exits 0 well within the grace period, without a reset', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = await run({ PORT: String(port), REDIS_URL: redis.url, ISSUER: base, LOG_LEVEL: 'info' });
    running.push(proc.child);
    expect(await ready(proc)).toBe(true);
    const auth = `Basic ${Buffer.from('reports-api:reports-api-secret-change-me-0123456789ab').toString('base64')}`;
    // A resource server's pool: 8 keep-alive connections, each sending the next request as soon as
    // the previous answer arrives.
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    type Outcome = { at: number; status?: number; connection?: string; body?: string; error?: string };
    const outcomes: Outcome[] = [];
    const introspect = () =>
      new Promise<Outcome>((resolve) => {
        const req = request(`${base}/introspect`, { method: 'POST', agent, headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ at: Date.now(), status: res.statusCode, connection: res.headers.connection, body }));
        });
        req.on('error', (err: NodeJS.ErrnoException) => resolve({ at: Date.now(), error: err.code ?? err.message }));
        req.end('token=abc');
      });
    const lastAnswers: Outcome[] = [];
    const client = async () => {
      let last: Outcome | undefined;
      for (;;) {
        const outcome = await introspect();
        outcomes.push(outcome);
        if (outcome.error) return last && lastAnswers.push(last);
        last = outcome;
      }
    };
    const clients = Array.from({ length: 8 }, client);
    await new Promise((r) => setTimeout(r, 500));
    const sigtermAt = Date.now();
    proc.child.kill('SIGTERM');
    const code = await proc.exited;
    const exitedAfterMs = Date.now() - sigtermAt;
    await Promise.all(clients);
    agent.destroy();

    expect(code).toBe(0);
    expect(exitedAfterMs).toBeLessThan(5000);
    const errors = outcomes.filter((o) => o.error).map((o) => o.error);
    // Each client's last attempt is a new connection, refused: the server no longer listens.
    expect(errors).toEqual(Array(8).fill('ECONNREFUSED'));
    const answered = outcomes.filter((o) => !o.error);
    expect(answered.every((o) => o.status === 200 && o.body === '{"active":false}')).toBe(true);
    expect(answered.filter((o) => o.at < sigtermAt).every((o) => o.connection === 'keep-alive')).toBe(true);
    // What ended each connection: an answer after SIGTERM saying Connection: close.
    expect(lastAnswers.map((o) => [o.at >= sigtermAt, o.connection])).toEqual(Array(8).fill([true, 'close']));
  });

  it('serves /readyz and /metrics only on the operations listener (loopback), /healthz on both', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = await run({ PORT: String(port), REDIS_URL: redis.url, ISSUER: base });
    running.push(proc.child);
    expect(await ready(proc)).toBe(true);
    expect((await fetch(`${base}/readyz`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${proc.opsUrl}/readyz`)).json()).toEqual({ status: 'ready' });
    expect(await (await fetch(`${proc.opsUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    const metrics = await fetch(`${proc.opsUrl}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await metrics.text()).toContain('latch_http_requests_total');
    expect(proc.out()).toContain(`"ops":"127.0.0.1:${new URL(proc.opsUrl).port}"`);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });

  it('serves no operations listener with LATCH_OPS_PORT=0, and names LATCH_OPS_PORT when its port is taken', async () => {
    const port = await freePort();
    const off = await run({ PORT: String(port), REDIS_URL: redis.url, ISSUER: `http://127.0.0.1:${port}`, LATCH_OPS_PORT: '0' });
    running.push(off.child);
    for (let i = 0; i < 100 && !(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(off.out()).toContain('"ops":"off"');
    off.child.kill('SIGTERM');
    expect(await off.exited).toBe(0);

    const taken = await run({ PORT: String(await freePort()), REDIS_URL: redis.url, LATCH_OPS_PORT: String(new URL(redis.url).port) });
    expect(await taken.exited).toBe(1);
    expect(taken.err()).toMatch(/^latch: invalid configuration: LATCH_OPS_PORT: cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
  });

  it('refuses to start in production without LATCH_CONFIG, and on the demo config', async () => {
    const env = await productionEnv();
    const { LATCH_CONFIG: _own, ...withoutConfig } = env;
    const missing = await run({ ...withoutConfig, PORT: String(await freePort()) });
    expect(await missing.exited).toBe(1);
    expect(missing.err()).toMatch(/^latch: invalid configuration: LATCH_CONFIG: required when NODE_ENV=production/);
    const demo = await run({ ...env, LATCH_CONFIG: 'config/demo.json', PORT: String(await freePort()) });
    expect(await demo.exited).toBe(1);
    expect(demo.err()).toMatch(/^latch: invalid configuration: .*config\/demo\.json: clients\[0\]\.client_secret: is a published demo value/);
  });

  it('stops with a message naming the field when the config is invalid', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ clients: [{ client_id: 'x', grant_types: ['client_credentials'] }] }));
    const proc = await run({ PORT: String(await freePort()), REDIS_URL: redis.url, LATCH_CONFIG: bad });
    expect(await proc.exited).toBe(1);
    expect(proc.err()).toBe(`latch: invalid configuration: ${bad}: clients[0].client_secret: required for client_secret_basic\n`);
  });

  it('runs on a Redis Cluster named by REDIS_CLUSTER_NODES', async () => {
    const cluster = await startRedisCluster(3);
    try {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const nodes = cluster.ports.map((p) => `127.0.0.1:${p}`).join(',');
      const proc = await run({ PORT: String(port), REDIS_CLUSTER_NODES: nodes, ISSUER: base, LATCH_CONFIG: 'config/demo.json' });
      running.push(proc.child);
      expect(await ready(proc)).toBe(true);
      const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' });
      const demo = JSON.parse(readFileSync('config/demo.json', 'utf8')) as { clients: Array<{ client_id: string; client_secret?: string; grant_types: string[]; resources?: string[] }>; resourceServers: Array<{ audience: string; introspectors?: string[] }> };
      const svc = demo.clients.find((c) => c.grant_types.includes('client_credentials') && c.resources?.length)!;
      const api = demo.resourceServers.find((r) => r.audience === svc.resources![0])!;
      const introspector = demo.clients.find((c) => api.introspectors?.includes(c.client_id))!;
      const issued = (await (await fetch(`${base}/token`, { method: 'POST', headers: basic(svc.client_id, svc.client_secret!), body: new URLSearchParams({ grant_type: 'client_credentials', resource: api.audience }) })).json()) as { access_token: string };
      expect(issued.access_token).toEqual(expect.any(String));
      const answer = await (await fetch(`${base}/introspect`, { method: 'POST', headers: basic(introspector.client_id, introspector.client_secret!), body: new URLSearchParams({ token: issued.access_token }) })).json();
      expect(answer).toMatchObject({ active: true, client_id: svc.client_id, aud: api.audience });
      expect(proc.out()).not.toContain(issued.access_token);
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
    } finally {
      await cluster.close();
    }
  });

  it('names REDIS_CLUSTER_NODES when the cluster cannot be reached', async () => {
    const proc = await run({ PORT: String(await freePort()), REDIS_CLUSTER_NODES: `127.0.0.1:${await freePort()}`, LATCH_REDIS_STARTUP_TIMEOUT_MS: '500' });
    expect(await proc.exited).toBe(1);
    expect(proc.err()).toMatch(/^latch: invalid configuration: REDIS_CLUSTER_NODES: cannot connect to cluster 127\.0\.0\.1:\d+/);
  });

  it('stops with a clear message when Redis cannot be reached', async () => {
    const proc = await run({ PORT: String(await freePort()), REDIS_URL: `redis://127.0.0.1:${await freePort()}`, LATCH_REDIS_STARTUP_TIMEOUT_MS: '500' });
    expect(await proc.exited).toBe(1);
    expect(proc.err()).toMatch(/^latch: invalid configuration: REDIS_URL: cannot connect to 127\.0\.0\.1:\d+/);
  });
});
