import { InvalidRequest } from '../errors/oauth-error.js';
import { EVENTS_SUPPORTED, POLL, PUSH } from './event-types.js';
import type { StreamRecord, StreamSettings } from './stream-store.js';

/** Transmitter-side facts every stream configuration shows (SSF §8.1.1). */
export interface TransmitterFacts {
  issuer: string;
  /** RFC 8936 endpoint of a poll stream. */
  pollUrl(streamId: string): string;
  minVerificationIntervalSeconds: number;
  inactivityTimeoutSeconds: number;
  /** Production: a push endpoint must be https. */
  production: boolean;
}

/** The receiver-supplied members (SSF §8.1.1) as a request gives them. */
export interface ReceiverFields {
  events_requested?: string[];
  delivery?: { method: string; endpoint_url?: string; authorization_header?: string };
  description?: string;
}

const MAX_DESCRIPTION = 256;
const MAX_EVENTS = 64;
const MAX_URL = 2048;
const MAX_AUTHORIZATION = 4096;

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidRequest(`${field}: must be a JSON object`);
  return value as Record<string, unknown>;
}

function pushEndpoint(value: unknown, production: boolean): string {
  if (typeof value !== 'string' || value.length > MAX_URL) throw new InvalidRequest('delivery.endpoint_url: required for push delivery (an absolute https URL)');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidRequest('delivery.endpoint_url: must be an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidRequest('delivery.endpoint_url: must be an http(s) URL');
  if (production && url.protocol !== 'https:') throw new InvalidRequest('delivery.endpoint_url: must use https');
  if (url.hash || url.username || url.password) throw new InvalidRequest('delivery.endpoint_url: must have no fragment and no credentials');
  return value;
}

/**
 * Reads the receiver-supplied members of a create, update or replace request: unknown members
 * are ignored (SSF §8.1.1 lets the transmitter ignore what it does not understand), malformed ones
 * are an `invalid_request` naming the member.
 */
export function receiverFields(body: Record<string, unknown>, production: boolean): ReceiverFields {
  const fields: ReceiverFields = {};
  if (body.events_requested !== undefined) {
    const events = body.events_requested;
    if (!Array.isArray(events) || events.length > MAX_EVENTS || !events.every((e) => typeof e === 'string' && e.length <= 512)) {
      throw new InvalidRequest(`events_requested: must be an array of at most ${MAX_EVENTS} event type URIs`);
    }
    fields.events_requested = [...new Set(events as string[])];
  }
  if (body.description !== undefined) {
    if (typeof body.description !== 'string') throw new InvalidRequest('description: must be a string');
    // SSF §8.1.1: the transmitter MAY truncate it.
    fields.description = body.description.slice(0, MAX_DESCRIPTION);
  }
  if (body.delivery !== undefined) {
    const delivery = object(body.delivery, 'delivery');
    const method = delivery.method;
    if (method === PUSH) {
      const auth = delivery.authorization_header;
      if (auth !== undefined && (typeof auth !== 'string' || auth.length > MAX_AUTHORIZATION || !/^[\x20-\x7e]+$/.test(auth))) {
        throw new InvalidRequest('delivery.authorization_header: must be a printable header value');
      }
      fields.delivery = { method, endpoint_url: pushEndpoint(delivery.endpoint_url, production), ...(auth !== undefined ? { authorization_header: auth as string } : {}) };
    } else if (method === POLL) {
      fields.delivery = { method };
    } else {
      throw new InvalidRequest(`delivery.method: must be "${PUSH}" (push) or "${POLL}" (poll)`);
    }
  }
  return fields;
}

/** events_delivered: what was requested that Latch sends (SSF §8.1.1), in the supported order. */
export function eventsDelivered(requested: string[] | undefined): string[] {
  const wanted = new Set(requested ?? []);
  return EVENTS_SUPPORTED.filter((e) => wanted.has(e));
}

/**
 * SSF §8.1.1.3/4: transmitter-supplied members present in an update must match their value; a
 * mismatch is an `invalid_request` naming the member.
 */
export function checkTransmitterFields(body: Record<string, unknown>, current: Record<string, unknown>): void {
  for (const member of ['iss', 'aud', 'events_supported', 'events_delivered', 'min_verification_interval', 'inactivity_timeout'] as const) {
    if (body[member] === undefined) continue;
    const a = JSON.stringify(Array.isArray(body[member]) ? [...(body[member] as unknown[])].sort() : body[member]);
    const b = JSON.stringify(Array.isArray(current[member]) ? [...(current[member] as unknown[])].sort() : current[member]);
    if (a !== b) throw new InvalidRequest(`${member}: is set by the transmitter and cannot be changed (it is ${b})`);
  }
  const delivery = body.delivery as { method?: unknown; endpoint_url?: unknown } | undefined;
  const currentDelivery = current.delivery as { method: string; endpoint_url?: string };
  if (delivery && typeof delivery === 'object' && delivery.method === POLL && currentDelivery.method === POLL && delivery.endpoint_url !== undefined && delivery.endpoint_url !== currentDelivery.endpoint_url) {
    throw new InvalidRequest(`delivery.endpoint_url: is set by the transmitter for poll delivery (it is ${currentDelivery.endpoint_url})`);
  }
}

/**
 * Settings from a full set of receiver-supplied members: create, or replace (PUT: a missing member
 * is deleted, SSF §8.1.1.4). A missing delivery is poll (SSF §8.1.1.1).
 */
export function settingsOf(fields: ReceiverFields, seal: (value: string) => string): StreamSettings {
  const delivery = fields.delivery ?? { method: POLL };
  return {
    method: delivery.method === PUSH ? 'push' : 'poll',
    ...(delivery.method === PUSH ? { endpointUrl: delivery.endpoint_url! } : {}),
    ...(delivery.authorization_header !== undefined ? { sealedAuthorization: seal(delivery.authorization_header) } : {}),
    ...(fields.events_requested !== undefined ? { eventsRequested: fields.events_requested } : {}),
    eventsDelivered: eventsDelivered(fields.events_requested),
    ...(fields.description !== undefined ? { description: fields.description } : {}),
  };
}

/** Settings after an update (PATCH): members present replace, missing ones stay (SSF §8.1.1.3). */
export function patchedSettings(stream: StreamRecord, fields: ReceiverFields, seal: (value: string) => string): StreamSettings {
  const requested = fields.events_requested ?? stream.eventsRequested;
  const description = fields.description ?? stream.description;
  if (fields.delivery) return settingsOf({ ...fields, events_requested: requested, ...(description !== undefined ? { description } : {}) }, seal);
  return {
    method: stream.method,
    ...(stream.endpointUrl ? { endpointUrl: stream.endpointUrl } : {}),
    ...(stream.sealedAuthorization ? { sealedAuthorization: stream.sealedAuthorization } : {}),
    ...(requested !== undefined ? { eventsRequested: requested } : {}),
    eventsDelivered: eventsDelivered(requested),
    ...(description !== undefined ? { description } : {}),
  };
}

/**
 * The stream configuration a receiver reads (SSF §8.1.1). The push `authorization_header` is
 * write-only: it is the receiver's own credential, kept sealed, never shown again.
 */
export function streamConfiguration(stream: StreamRecord, facts: TransmitterFacts): Record<string, unknown> {
  return {
    stream_id: stream.id,
    iss: facts.issuer,
    aud: stream.clientId,
    delivery: stream.method === 'push' ? { method: PUSH, endpoint_url: stream.endpointUrl } : { method: POLL, endpoint_url: facts.pollUrl(stream.id) },
    events_supported: [...EVENTS_SUPPORTED],
    ...(stream.eventsRequested !== undefined ? { events_requested: stream.eventsRequested } : {}),
    events_delivered: stream.eventsDelivered,
    min_verification_interval: facts.minVerificationIntervalSeconds,
    ...(facts.inactivityTimeoutSeconds > 0 ? { inactivity_timeout: facts.inactivityTimeoutSeconds } : {}),
    ...(stream.description !== undefined ? { description: stream.description } : {}),
  };
}
