import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { IdCipher } from '../../adapters/redis/id-cipher.js';
import type { SsfConfig } from '../config/schema.js';
import { InvalidRequest, OAuthError } from '../errors/oauth-error.js';
import { readJson } from '../http/request-body.js';
import type { Receiver } from './receiver-auth.js';
import { checkTransmitterFields, patchedSettings, receiverFields, settingsOf, streamConfiguration, type TransmitterFacts } from './stream-config.js';
import type { StreamRecord, StreamStatus, StreamStore } from './stream-store.js';
import { parseListedSubject } from './subjects.js';
import type { SsfTransmitter } from './transmitter.js';

/** 404 for a stream that does not exist or belongs to another receiver (SSF §8.1.1.2: no difference shown). */
export class StreamNotFound extends Error {
  readonly status = 404;
  constructor(streamId: string) {
    super(`no stream "${streamId.slice(0, 64)}" for this receiver`);
  }
}

/** SSF §8.1.1.1: 409 when the receiver may not have another stream. */
export class StreamConflict extends Error {
  readonly status = 409;
}

/** 429 with Retry-After: a verification sooner than `min_verification_interval` (SSF §8.1.4.2). */
export class TooSoon extends OAuthError {
  readonly retryAfterSeconds: number;
  constructor(seconds: number) {
    super(429, 'temporarily_unavailable', `a verification was requested less than min_verification_interval (${seconds} s) ago`);
    this.retryAfterSeconds = seconds;
  }
}

export interface ManagementDependencies {
  streams: StreamStore;
  transmitter: SsfTransmitter;
  cipher: IdCipher;
  config: SsfConfig;
  facts: TransmitterFacts;
}

const STATUSES = new Set<StreamStatus>(['enabled', 'paused', 'disabled']);

function body(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidRequest('the body must be a JSON object');
  return value as Record<string, unknown>;
}

function streamIdOf(value: unknown, where = 'stream_id'): string {
  if (typeof value !== 'string' || value === '') throw new InvalidRequest(`${where}: required`);
  return value;
}

/**
 * The SSF §8 management API: one named handler per operation, each for the authenticated
 * receiver and its own streams only.
 */
export function managementHandlers(deps: ManagementDependencies) {
  const { streams, transmitter, cipher, config, facts } = deps;
  const seal = (value: string) => cipher.seal(value);
  const configuration = (stream: StreamRecord) => streamConfiguration(stream, facts);

  async function owned(receiver: Receiver, streamId: string): Promise<StreamRecord> {
    const stream = await streams.get(streamId);
    if (!stream || stream.clientId !== receiver.clientId) throw new StreamNotFound(streamId);
    await streams.touch(stream.id);
    return stream;
  }

  return {
    /** SSF §8.1.1.1. */
    async createStream(ctx: Context, receiver: Receiver) {
      const fields = receiverFields(body(await readJson(ctx)), facts.production);
      const id = randomBytes(16).toString('base64url');
      const created = await streams.create(id, receiver.clientId, settingsOf(fields, seal), config.defaultSubjects, config.maxStreamsPerReceiver);
      if (!created) throw new StreamConflict(`this receiver already has ${config.maxStreamsPerReceiver} streams (ssf.maxStreamsPerReceiver): delete one, or update it`);
      ctx.status = 201;
      ctx.body = configuration((await streams.get(id))!);
    },

    /** SSF §8.1.1.2: one stream, or every stream of the receiver. */
    async readStream(ctx: Context, receiver: Receiver) {
      const id = ctx.query.stream_id;
      if (id === undefined) {
        ctx.body = (await streams.list(receiver.clientId)).map(configuration);
        return;
      }
      ctx.body = configuration(await owned(receiver, streamIdOf(id)));
    },

    /** SSF §8.1.1.3 (PATCH) and §8.1.1.4 (PUT). */
    async updateStream(ctx: Context, receiver: Receiver) {
      const request = body(await readJson(ctx));
      const stream = await owned(receiver, streamIdOf(request.stream_id));
      checkTransmitterFields(request, configuration(stream));
      const fields = receiverFields(request, facts.production);
      const settings = ctx.method === 'PUT' ? settingsOf(fields, seal) : patchedSettings(stream, fields, seal);
      if (settings.method !== stream.method) {
        throw new InvalidRequest(`delivery.method: a stream keeps its delivery method (${stream.method}); create another stream for ${settings.method}`);
      }
      await streams.replaceSettings(stream.id, settings);
      ctx.body = configuration((await streams.get(stream.id))!);
    },

    /** SSF §8.1.1.5: the stream and everything queued on it go. */
    async deleteStream(ctx: Context, receiver: Receiver) {
      const stream = await owned(receiver, streamIdOf(ctx.query.stream_id));
      await streams.delete(stream);
      ctx.status = 204;
    },

    /** SSF §8.1.2.1. */
    async readStatus(ctx: Context, receiver: Receiver) {
      const stream = await owned(receiver, streamIdOf(ctx.query.stream_id));
      ctx.body = { stream_id: stream.id, status: stream.status, ...(stream.reason ? { reason: stream.reason } : {}) };
    },

    /** SSF §8.1.2.2. */
    async updateStatus(ctx: Context, receiver: Receiver) {
      const request = body(await readJson(ctx));
      const stream = await owned(receiver, streamIdOf(request.stream_id));
      const status = request.status as StreamStatus;
      if (!STATUSES.has(status)) throw new InvalidRequest('status: must be "enabled", "paused" or "disabled"');
      if (request.reason !== undefined && typeof request.reason !== 'string') throw new InvalidRequest('reason: must be a string');
      const reason = String(request.reason ?? '').slice(0, 256);
      await streams.setStatus(stream, status, reason);
      ctx.body = { stream_id: stream.id, status, ...(reason ? { reason } : {}) };
    },

    /**
     * SSF §8.1.3.2 and §8.1.3.3. In a stream of default subjects ALL, removing lists the subject
     * as excluded and adding lifts that; in a NONE stream, adding lists it and removing lifts it.
     * Any well-formed subject is accepted, known or not (SSF §9.1: no probing of who exists).
     */
    async addSubject(ctx: Context, receiver: Receiver) {
      await changeSubject(ctx, receiver, 'add');
      ctx.status = 200;
      ctx.body = '';
    },

    async removeSubject(ctx: Context, receiver: Receiver) {
      await changeSubject(ctx, receiver, 'remove');
      ctx.status = 204;
    },

    /** SSF §8.1.4.2: queues a verification event; 204. */
    async verify(ctx: Context, receiver: Receiver) {
      const request = body(await readJson(ctx));
      const stream = await owned(receiver, streamIdOf(request.stream_id));
      if (request.state !== undefined && (typeof request.state !== 'string' || request.state.length > 1024)) {
        throw new InvalidRequest('state: must be a string of at most 1024 characters');
      }
      if (stream.status === 'disabled' && !stream.lagged) throw new InvalidRequest('the stream is disabled: enable it (status endpoint) before verifying it');
      if (!(await streams.claimVerification(stream.id, config.minVerificationIntervalSeconds * 1000))) {
        throw new TooSoon(config.minVerificationIntervalSeconds);
      }
      if ((await transmitter.verify(stream.id, request.state as string | undefined)) === 'full') {
        throw new OAuthError(429, 'temporarily_unavailable', 'the stream\'s queue is full: fetch or acknowledge its events before asking for a verification');
      }
      ctx.status = 204;
    },
  };

  async function changeSubject(ctx: Context, receiver: Receiver, change: 'add' | 'remove') {
    const request = body(await readJson(ctx));
    const stream = await owned(receiver, streamIdOf(request.stream_id));
    if (request.verified !== undefined && typeof request.verified !== 'boolean') throw new InvalidRequest('verified: must be a boolean');
    const subject = parseListedSubject(request.subject);
    const listed = stream.subjects === 'NONE' ? change === 'add' : change === 'remove';
    if (listed) {
      const counts = await streams.subjectCount(stream.id);
      if ('complex' in subject ? counts.complex >= MAX_COMPLEX_SUBJECTS : counts.simple + subject.simple.length > MAX_SIMPLE_SUBJECTS) {
        throw new InvalidRequest(`this stream already lists the most subjects it may (${MAX_SIMPLE_SUBJECTS} simple, ${MAX_COMPLEX_SUBJECTS} complex)`);
      }
    }
    await streams.listSubject(stream.id, subject, listed);
  }
}

/**
 * Subjects one stream may list. Every event is checked against them: a simple subject costs one
 * set lookup whatever their number, a complex one is compared member by member (a bound on that work).
 */
const MAX_SIMPLE_SUBJECTS = 100_000;
const MAX_COMPLEX_SUBJECTS = 100;
