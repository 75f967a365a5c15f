import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface PropagationTarget {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  accepted: (status: number, body: string) => boolean;
}

export interface PropagationResult {
  /** Requests sent before the revoke call started (all should be accepted). */
  before: { requests: number; rejected: number };
  revokeMs: number;
  /** Requests sent after the revoke call returned and still accepted: the stale accepts. */
  staleAccepts: number;
  /** Requests sent after the revoke returned. */
  after: number;
  /** When the first denial arrived, relative to the revoke returning (negative: before it returned). */
  firstDenialMs: number | undefined;
  /** When the first request that was denied had been sent, relative to the revoke returning. */
  firstDeniedSentMs: number | undefined;
  /**
   * The stale window: when the last request that was still accepted had been sent, relative to
   * the revoke returning; 0 when nothing sent after the revoke returned was accepted.
   */
  staleWindowMs: number;
  rps: number;
}

/**
 * Keeps `connections` requests in flight against `target`, calls `revoke` after `beforeMs`, keeps
 * going for `afterMs` after it returned, and classifies every request by when it was sent. One
 * process, one clock (performance.now), so "sent after the revoke returned" is exact.
 */
export async function measurePropagation(
  target: PropagationTarget,
  revoke: () => Promise<void>,
  { connections = 32, beforeMs = 2000, afterMs = 2000 } = {},
): Promise<PropagationResult> {
  const { origin, pathname, search } = new URL(target.url);
  const pool = new Pool(origin, { connections, pipelining: 1 });
  const log: Array<{ sent: number; done: number; ok: boolean }> = [];
  let stop = false;
  const started = performance.now();

  const worker = async () => {
    while (!stop) {
      const sent = performance.now();
      let ok: boolean;
      try {
        const res = await pool.request({ method: target.method, path: pathname + search, headers: target.headers, body: target.body });
        ok = target.accepted(res.statusCode, await res.body.text());
      } catch {
        ok = false;
      }
      log.push({ sent, done: performance.now(), ok });
    }
  };
  const workers = Array.from({ length: connections }, worker);

  await new Promise((r) => setTimeout(r, beforeMs));
  const revokeStart = performance.now();
  await revoke();
  const revoked = performance.now();
  await new Promise((r) => setTimeout(r, afterMs));
  stop = true;
  await Promise.all(workers);
  const ended = performance.now();
  await pool.close();

  const pre = log.filter((e) => e.sent < revokeStart);
  const post = log.filter((e) => e.sent > revoked);
  const stale = post.filter((e) => e.ok);
  const firstDenial = log.reduce((min, e) => (!e.ok && e.done > revokeStart && e.done < min ? e.done : min), Infinity);
  const firstDeniedSent = log.reduce((min, e) => (!e.ok && e.done > revokeStart && e.sent < min ? e.sent : min), Infinity);
  const lastStaleSent = stale.reduce((max, e) => Math.max(max, e.sent), revoked);
  const round = (n: number | undefined) => (n === undefined ? undefined : Math.round(n * 100) / 100);
  return {
    before: { requests: pre.length, rejected: pre.filter((e) => !e.ok).length },
    revokeMs: round(revoked - revokeStart)!,
    staleAccepts: stale.length,
    after: post.length,
    firstDenialMs: round(Number.isFinite(firstDenial) ? firstDenial - revoked : undefined),
    firstDeniedSentMs: round(Number.isFinite(firstDeniedSent) ? firstDeniedSent - revoked : undefined),
    staleWindowMs: round(lastStaleSent - revoked)!,
    rps: Math.round(log.length / ((ended - started) / 1000)),
  };
}
