import { InvalidRequest } from '../errors/oauth-error.js';

/** A Subject Identifier (RFC 9493 §3) or an SSF complex subject (SSF §3.3): `format` and its members. */
export type SubjectIdentifier = { format: string } & Record<string, unknown>;

/** Who or what a Latch event is about; each becomes a member of its `sub_id`. */
export interface EventSubject {
  /** The account (an `iss_sub` user, as in ID tokens and introspection `sub`). */
  sub?: string;
  /** The client (an `opaque` application). */
  clientId?: string;
  /** The device session of the devices page and the admin API (an `opaque` session). */
  sessionId?: string;
}

/** Members of each simple format this transmitter checks (RFC 9493 §3.2, SSF §3.5). */
const SIMPLE_FORMATS: Record<string, readonly string[]> = {
  account: ['uri'],
  email: ['email'],
  iss_sub: ['iss', 'sub'],
  opaque: ['id'],
  phone_number: ['phone_number'],
  did: ['url'],
  uri: ['uri'],
  jwt_id: ['iss', 'jti'],
  saml_assertion_id: ['issuer', 'assertion_id'],
};

/** Longest member value of a listed subject identifier. */
const MAX_MEMBER = 512;

/**
 * A simple identifier as one comparable string: its members in a fixed order, an email address
 * lower-cased (RFC 9493 §3.2.2: addresses are compared case-insensitively in practice).
 */
function canonicalSimple(id: Record<string, unknown>, where: string): string {
  const format = id.format;
  if (typeof format !== 'string') throw new InvalidRequest(`${where}.format: required`);
  const members = SIMPLE_FORMATS[format];
  if (!members) {
    if (format === 'ip-addresses') {
      const ips = id['ip-addresses'];
      if (!Array.isArray(ips) || ips.length === 0 || !ips.every((ip) => typeof ip === 'string' && ip.length <= 64)) {
        throw new InvalidRequest(`${where}.ip-addresses: must be a non-empty array of addresses`);
      }
      return JSON.stringify({ format, 'ip-addresses': [...ips].sort() });
    }
    throw new InvalidRequest(`${where}.format: unsupported subject identifier format "${format.slice(0, 64)}"`);
  }
  const out: Record<string, string> = { format };
  for (const member of members) {
    const value = id[member];
    if (typeof value !== 'string' || value === '' || value.length > MAX_MEMBER) {
      throw new InvalidRequest(`${where}.${member}: required for format "${format}" (a non-empty string)`);
    }
    out[member] = format === 'email' ? value.toLowerCase() : value;
  }
  return JSON.stringify(out);
}

/**
 * What a receiver listed (add or remove subject): simple identifiers (an `aliases` subject is
 * each of its identifiers), or one complex pattern `{member: canonical simple identifier}`.
 * A malformed subject is an `invalid_request` naming the member.
 */
export function parseListedSubject(raw: unknown): { simple: string[] } | { complex: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InvalidRequest('subject: must be a subject identifier object');
  const subject = raw as Record<string, unknown>;
  if (subject.format === 'aliases') {
    const ids = subject.identifiers;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 20) throw new InvalidRequest('subject.identifiers: must be an array of 1 to 20 identifiers');
    return { simple: ids.map((id, i) => canonicalSimple(id as Record<string, unknown>, `subject.identifiers[${i}]`)) };
  }
  if (subject.format !== 'complex') return { simple: [canonicalSimple(subject, 'subject')] };
  const pattern: Record<string, string> = {};
  for (const [member, value] of Object.entries(subject)) {
    if (member === 'format') continue;
    if (typeof value !== 'object' || value === null) throw new InvalidRequest(`subject.${member}: must be a subject identifier`);
    pattern[member] = canonicalSimple(value as Record<string, unknown>, `subject.${member}`);
  }
  if (Object.keys(pattern).length === 0) throw new InvalidRequest('subject: a complex subject needs at least one member');
  return { complex: JSON.stringify(Object.fromEntries(Object.entries(pattern).sort(([a], [b]) => a.localeCompare(b)))) };
}

export const issSub = (iss: string, sub: string): SubjectIdentifier => ({ format: 'iss_sub', iss, sub });
export const emailSubject = (email: string): SubjectIdentifier => ({ format: 'email', email });
export const opaque = (id: string): SubjectIdentifier => ({ format: 'opaque', id });

/**
 * The `sub_id` of an event about `subject` (SSF §3): a user alone is a simple identifier (`iss_sub`,
 * or `email` for a stream that listed the user by email); a client, alone or with a user or a
 * session, a complex subject whose `application` is the client id.
 */
export function subjectId(issuer: string, subject: EventSubject, email?: string): SubjectIdentifier {
  const user = subject.sub === undefined ? undefined : email ? emailSubject(email) : issSub(issuer, subject.sub);
  if (subject.clientId === undefined && subject.sessionId === undefined && user) return user;
  return {
    format: 'complex',
    ...(user ? { user } : {}),
    ...(subject.clientId !== undefined ? { application: opaque(subject.clientId) } : {}),
    ...(subject.sessionId !== undefined ? { session: opaque(subject.sessionId) } : {}),
  };
}

/** What the fan-out script matches listed subjects against (adapters/redis/ssf-scripts.ts). */
export interface Principals {
  /** Every simple identifier the event's subject is made of. */
  keys: string[];
  /** The same, per complex-subject member. */
  fields: Record<string, string[]>;
  /** The user's email identifier ('' when unknown): a match on it gets the email variant. */
  email: string;
}

export function principalsOf(issuer: string, subject: EventSubject, email?: string): Principals {
  const fields: Record<string, string[]> = {};
  if (subject.sub !== undefined) fields.user = [canonicalSimple(issSub(issuer, subject.sub), 'user')];
  const emailKey = subject.sub !== undefined && email ? canonicalSimple(emailSubject(email), 'user') : '';
  if (emailKey) fields.user!.push(emailKey);
  if (subject.clientId !== undefined) fields.application = [canonicalSimple(opaque(subject.clientId), 'application')];
  if (subject.sessionId !== undefined) fields.session = [canonicalSimple(opaque(subject.sessionId), 'session')];
  return { keys: Object.values(fields).flat(), fields, email: emailKey };
}
