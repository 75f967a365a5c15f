import { randomBytes } from 'node:crypto';
import { API, API_SCOPE, CLIENTS, FILLER_ACCOUNTS, USERS } from '../lib/bench-config.js';
import { AdminClient } from '../lib/admin.js';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import { startLatch } from '../lib/latch.js';
import { measure, type LoadResult } from '../lib/load.js';
import { basic, isActive, userAccessToken } from '../lib/oauth.js';
import { usedMemory } from '../lib/redis-server.js';
import { loadCells, ratio, type Row } from '../lib/report.js';
import { TokenWriter } from '../lib/token-writer.js';

const SECTION = 'Storage & scale';
const SAMPLE_BODIES = 20_000;
const ACCOUNT_TOKENS = 1000;
const fillerAccount = (grant: number) => FILLER_ACCOUNTS[grant % FILLER_ACCOUNTS.length]!.sub;

const fmtCount = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);

/**
 * Redis bytes per access token, introspection latency at a small and a large number of stored
 * tokens, and revoke-all of one account's 1,000 tokens at both sizes. Tokens are written straight
 * into Redis through Latch's adapter (same records as issuance), cloned from one real login.
 */
export async function storageScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { redis, secrets, settings, quick, log } = ctx;
  const small = 10_000;
  const memoryBatch = quick ? 50_000 : 100_000;
  const large = quick ? 100_000 : 1_000_000;
  await redis.client.flushall();
  const latch = await startLatch(redis.url, secrets);
  const writer = await (async () => {
    const real = await userAccessToken(latch.url, USERS.filler, `offline_access ${API_SCOPE}`, API);
    const templates = await TokenWriter.templatesOf(redis.url, secrets.tokenHashKey, real);
    const w = new TokenWriter(redis.url, secrets.tokenHashKey, templates, randomBytes(8).toString('hex'));
    await w.connect();
    return w;
  })();
  try {
    const introspectSample = (count: number) => {
      const bodies: string[] = [];
      for (let k = 0; k < SAMPLE_BODIES; k++) bodies.push(`token=${writer.token('f', Math.floor(Math.random() * count))}`);
      return measure(
        {
          url: `${latch.url}/introspect`,
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(CLIENTS.introspector) },
          bodies,
          accepted: (status, body) => status === 200 && body.includes('"active":true'),
        },
        settings,
      );
    };
    const fill = async (from: number, to: number) => {
      const started = Date.now();
      for (let i = from; i < to; i += 100_000) {
        await writer.write('f', i, Math.min(to, i + 100_000), fillerAccount);
        log(`storage: ${fmtCount(Math.min(to, i + 100_000))} tokens stored (${Math.round((Math.min(to, i + 100_000) - from) / ((Date.now() - started) / 1000))}/s)`);
      }
    };
    const admin = await AdminClient.connect(latch.url);
    const revokeAll = async (tag: string, user: { sub: string; username: string }) => {
      if ('unavailable' in admin) return { skipped: admin.unavailable };
      await writer.write(tag, 0, ACCOUNT_TOKENS, () => user.sub);
      const sample = [0, ACCOUNT_TOKENS / 2, ACCOUNT_TOKENS - 1].map((i) => writer.token(tag, i));
      const before = (await Promise.all(sample.map((t) => isActive(latch.url, t)))).every(Boolean);
      const t0 = performance.now();
      await admin.revokeAccount(user.username);
      const ms = Math.round((performance.now() - t0) * 100) / 100;
      const after = (await Promise.all(sample.map((t) => isActive(latch.url, t)))).some(Boolean);
      return { ms, activeBefore: before, activeAfter: after };
    };

    log(`storage: filling ${fmtCount(small)} tokens`);
    await fill(0, small);
    if (!(await isActive(latch.url, writer.token('f', 0)))) throw new Error('a written token does not introspect as active: the record format differs from what Latch reads');
    log(`storage: introspection at ${fmtCount(small)} stored tokens`);
    const atSmall = await introspectSample(small);
    const revokeSmall = await revokeAll('sam', USERS.revokeAllSmall);

    log(`storage: memory delta over ${fmtCount(memoryBatch)} tokens`);
    await writer.writeGrants('f', small, small + memoryBatch, fillerAccount);
    const before = await usedMemory(redis.client);
    await writer.write('f', small, small + memoryBatch, fillerAccount, false);
    const after = await usedMemory(redis.client);
    const bytesPerToken = Math.round((after - before) / memoryBatch);
    const recordBytes = Number(await redis.client.call('MEMORY', 'USAGE', writer.recordKey(writer.token('f', small)), 'SAMPLES', '0'));

    log(`storage: filling to ${fmtCount(large)} tokens`);
    const fillStarted = Date.now();
    await fill(small + memoryBatch, large);
    const fillSeconds = Math.round((Date.now() - fillStarted) / 100) / 10;
    const totalMemory = await usedMemory(redis.client);
    log(`storage: introspection at ${fmtCount(large)} stored tokens`);
    const atLarge = await introspectSample(large);
    const revokeLarge = await revokeAll('lara', USERS.revokeAllLarge);

    const raw = { small, large, memoryBatch, bytesPerToken, recordBytes, usedMemoryAtLarge: totalMemory, fillSeconds, atSmall, atLarge, revokeSmall, revokeLarge };
    return { rows: storageRows(raw), raw };
  } finally {
    writer.close();
    await latch.close();
    await redis.client.flushall();
  }
}

type RevokeResult = { skipped: string } | { ms: number; activeBefore: boolean; activeAfter: boolean };

function storageRows(r: {
  small: number;
  large: number;
  memoryBatch: number;
  bytesPerToken: number;
  recordBytes: number;
  atSmall: LoadResult;
  atLarge: LoadResult;
  revokeSmall: RevokeResult;
  revokeLarge: RevokeResult;
}): Row[] {
  const p99Ratio = ratio(r.atLarge.p99, r.atSmall.p99);
  const rows: Row[] = [
    {
      section: SECTION,
      name: `Redis memory per access token (used_memory delta over ${fmtCount(r.memoryBatch)})`,
      value: `${r.bytesPerToken} B/token (MEMORY USAGE of one record: ${r.recordBytes} B)`,
      target: '≤ 400 B',
      met: r.bytesPerToken <= 400,
    },
    { section: SECTION, name: `Latch /introspect, random tokens among ${fmtCount(r.small)} stored`, ...loadCells(r.atSmall), vs: 'reference' },
    {
      section: SECTION,
      name: `Latch /introspect, random tokens among ${fmtCount(r.large)} stored`,
      ...loadCells(r.atLarge),
      vs: `p99 ${p99Ratio}× the ${fmtCount(r.small)} p99`,
      target: `p99 ≤ 1.2× p99 at ${fmtCount(r.small)}`,
      met: p99Ratio !== undefined && p99Ratio <= 1.2 && r.atLarge.rejected === 0,
    },
  ];
  const revokeRow = (label: string, x: RevokeResult, reference?: RevokeResult): Row => {
    const name = `Revoke-all of an account with ${ACCOUNT_TOKENS} tokens among ${label}`;
    if ('skipped' in x) return { section: SECTION, name, skipped: x.skipped, target: reference ? 'independent of total tokens' : undefined };
    const note = !x.activeBefore || x.activeAfter ? `check failed: active before=${x.activeBefore}, active after=${x.activeAfter}` : undefined;
    if (!reference || 'skipped' in reference) return { section: SECTION, name, value: `${x.ms} ms`, vs: 'reference', note };
    return {
      section: SECTION,
      name,
      value: `${x.ms} ms`,
      vs: `${ratio(x.ms, reference.ms)}× the ${fmtCount(r.small)} time`,
      target: 'independent of total tokens (≤ 1.5× or ≤ +2 ms)',
      met: !note && (x.ms <= 1.5 * reference.ms || x.ms <= reference.ms + 2),
      note,
    };
  };
  rows.push(revokeRow(fmtCount(r.small), r.revokeSmall), revokeRow(fmtCount(r.large), r.revokeLarge, r.revokeSmall));
  return rows;
}
