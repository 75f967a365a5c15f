import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API, API_SCOPE, CLIENTS } from '../lib/bench-config.js';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import { summariseProfile } from '../lib/cpu-profile.js';
import { startLatch } from '../lib/latch.js';
import { measure } from '../lib/load.js';
import { basic, clientCredentials } from '../lib/oauth.js';

/**
 * Latch's /introspect under the same load as the introspection scenario, with `--cpu-prof`; the
 * profile lands in bench/results/ and its top frames (self time) in the JSON and on stderr.
 * Not part of the table: profiling slows the server down.
 */
export async function profileScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { redis, secrets, settings } = ctx;
  await redis.client.flushall();
  const dir = mkdtempSync(join(fileURLToPath(new URL('../../../bench/results/', import.meta.url)), 'profile-'));
  const latch = await startLatch(redis.url, secrets, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  let load;
  try {
    const token = await clientCredentials(latch.url, CLIENTS.svc, API_SCOPE, API);
    ctx.log(`profile: Latch /introspect under --cpu-prof (${dir})`);
    load = await measure(
      {
        url: `${latch.url}/introspect`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(CLIENTS.introspector) },
        bodies: [`token=${token}`],
        accepted: (status, body) => status === 200 && body.includes('"active":true'),
      },
      settings,
    );
  } finally {
    await latch.close();
  }
  const summary = summariseProfile(dir);
  ctx.log(`profile: ${summary.file}\n${summary.topFrames.map((f) => `  ${String(f.selfPct).padStart(5)}%  ${f.frame}`).join('\n')}`);
  ctx.log(`profile by area:\n${summary.byArea.map((f) => `  ${String(f.selfPct).padStart(5)}%  ${f.frame}`).join('\n')}`);
  return { rows: [], raw: { load, ...summary } };
}
