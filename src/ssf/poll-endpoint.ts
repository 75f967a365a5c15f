import type { Context } from 'koa';
import type { SsfConfig } from '../config/schema.js';
import { InvalidRequest } from '../errors/oauth-error.js';
import { readJson } from '../http/request-body.js';
import type { Logger } from '../log/logger.js';
import type { Receiver } from './receiver-auth.js';
import type { SetSigner } from './set-signer.js';
import type { SsfMetrics } from './ssf-metrics.js';
import { transmits, type StreamRecord, type StreamStore } from './stream-store.js';
import type { Wake } from './wake.js';

export interface PollDependencies {
  streams: StreamStore;
  signer: SetSigner;
  wake: Wake;
  config: SsfConfig;
  metrics: SsfMetrics;
  logger: Logger;
}

interface PollRequest {
  ack: string[];
  setErrs: Record<string, { err?: unknown; description?: unknown }>;
  maxEvents: number | undefined;
  returnImmediately: boolean;
}

const MAX_ACKS = 10_000;

/** RFC 8936 §2.1 and §2.3: the poll request's members; malformed ones are an `invalid_request`. */
function pollRequest(raw: unknown): PollRequest {
  const value = raw ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidRequest('the body must be a JSON object');
  const body = value as Record<string, unknown>;
  const ack = body.ack ?? [];
  if (!Array.isArray(ack) || ack.length > MAX_ACKS || !ack.every((j) => typeof j === 'string')) throw new InvalidRequest(`ack: must be an array of at most ${MAX_ACKS} jti strings`);
  const setErrs = body.setErrs ?? {};
  if (typeof setErrs !== 'object' || setErrs === null || Array.isArray(setErrs) || Object.keys(setErrs).length > MAX_ACKS) {
    throw new InvalidRequest('setErrs: must be an object of jti → { err, description }');
  }
  const max = body.maxEvents;
  if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 0)) throw new InvalidRequest('maxEvents: must be a non-negative integer');
  const immediately = body.returnImmediately ?? false;
  if (typeof immediately !== 'boolean') throw new InvalidRequest('returnImmediately: must be a boolean');
  return { ack: ack as string[], setErrs: setErrs as PollRequest['setErrs'], maxEvents: max as number | undefined, returnImmediately: immediately };
}

/**
 * RFC 8936 poll-based delivery of one stream: acknowledgements first (§2.3: they and `setErrs`
 * take SETs off the queue), then up to `maxEvents` of the oldest queued SETs, each signed as it
 * leaves. An unacknowledged SET is handed out again on the next poll, with the same `jti`
 * (at-least-once). With `returnImmediately: false` and nothing queued, the request waits up to
 * `ssf.pollWaitSeconds` for an event (`Wake`), then answers what it has.
 */
export function pollHandler(deps: PollDependencies) {
  const { streams, signer, wake, config, metrics, logger } = deps;

  return async function poll(ctx: Context, receiver: Receiver, stream: StreamRecord) {
    const request = pollRequest(await readJson(ctx, 1024 * 1024));
    const refused = Object.keys(request.setErrs);
    const [acknowledged, rejected] = await Promise.all([streams.acknowledge(stream.id, request.ack), streams.acknowledge(stream.id, refused)]);
    if (acknowledged > 0) metrics.delivered.inc({ method: 'poll' }, acknowledged);
    if (rejected > 0) {
      metrics.rejected.inc({ method: 'poll' }, rejected);
      const errs = [...new Set(refused.map((jti) => String(request.setErrs[jti]?.err ?? 'unknown').slice(0, 64)))];
      logger.warn({ stream: stream.id, receiver: receiver.clientId, refused: rejected, errs }, 'shared signals: a receiver refused SETs (setErrs); they are dropped');
    }
    ctx.set('cache-control', 'no-store');
    const count = Math.min(request.maxEvents ?? config.pollMaxEvents, config.pollMaxEvents);
    if (count === 0) {
      ctx.body = { sets: {} };
      return;
    }
    let current = stream;
    let queued = transmits(current) ? await streams.read(stream.id, count) : [];
    if (queued.length === 0 && !request.returnImmediately) {
      // The response's close before it was sent: the receiver hung up, stop waiting for it.
      const gone = new AbortController();
      const hangUp = () => gone.abort();
      ctx.res.once('close', hangUp);
      await wake.wait(stream.id, config.pollWaitSeconds * 1000, gone.signal);
      ctx.res.off('close', hangUp);
      if (gone.signal.aborted) {
        ctx.body = { sets: {} };
        return;
      }
      current = (await streams.get(stream.id)) ?? current;
      queued = transmits(current) ? await streams.read(stream.id, count) : [];
    }
    const sets: Record<string, string> = {};
    for (const entry of queued) sets[entry.jti] = await signer.sign(JSON.parse(entry.claims) as Record<string, unknown>, entry.jti, stream.clientId);
    const more = queued.length > 0 && (await streams.length(stream.id)) > queued.length;
    ctx.body = { sets, ...(more ? { moreAvailable: true } : {}) };
  };
}
