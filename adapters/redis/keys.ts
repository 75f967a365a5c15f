import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';

/**
 * Every Redis key Latch uses is built here; nothing else knows key names.
 *
 * Identifiers (token values, grant ids, session ids, interaction ids, account ids) never appear in a
 * key: each is replaced by `HMAC-SHA256(tokenHashKey, kind + id)`, base64url. A reader of the
 * database therefore cannot turn a key back into a usable token.
 *
 * Hash tags (`{...}`) pin every key that a multi-key operation touches to one Redis Cluster slot:
 * a grant and the index of its tokens share `{g.<hash>}`, an account's indices share `{a.<hash>}`.
 */

/** Short record prefixes per oidc-provider model; keys stay small because there are millions. */
const MODEL_CODES: Record<string, string> = {
  AccessToken: 'at',
  RefreshToken: 'rt',
  AuthorizationCode: 'ac',
  ClientCredentials: 'cc',
  DeviceCode: 'dc',
  BackchannelAuthenticationRequest: 'ciba',
  PreAuthorizedCode: 'pac',
  Grant: 'g',
  Session: 's',
  Interaction: 'i',
  ReplayDetection: 'rd',
  PushedAuthorizationRequest: 'par',
  Client: 'cl',
  InitialAccessToken: 'iat',
  RegistrationAccessToken: 'rat',
};

export function modelCode(model: string): string {
  return MODEL_CODES[model] ?? model.toLowerCase();
}

export class RedisKeys {
  readonly prefix: string;
  /** A KeyObject made once: building one per HMAC was a third of introspection's CPU time. */
  readonly #hashKey: KeyObject;

  constructor(hashKey: Buffer, prefix = 'latch:') {
    this.prefix = prefix;
    this.#hashKey = createSecretKey(hashKey);
  }

  /**
   * Keyed hash of an identifier, truncated to 128 bits (22 base64url characters): unforgeable
   * without the key and collision-free at any realistic count, at half the bytes of the full MAC
   * (there are millions of these keys). `domain` separates id spaces.
   */
  hash(domain: string, id: string): string {
    return createHmac('sha256', this.#hashKey).update(`${domain}\0${id}`).digest().subarray(0, 16).toString('base64url');
  }

  /**
   * Hash of a record id (the part of the key inside the hash tag). The same for every model —
   * the model's code in the key keeps them apart — so looking a token up under several models
   * (introspection without a hint) costs one HMAC.
   */
  recordHash(_model: string, id: string): string {
    return this.hash('rec', id);
  }

  /** Record keys of `id` under each of `models`, from a single HMAC. */
  recordKeys(models: readonly string[], id: string): string[] {
    const hash = this.hash('rec', id);
    return models.map((model) => this.recordKey(modelCode(model), hash));
  }

  /** The record of one stored entity: a Redis hash with fields `p` (payload JSON) and `c` (consumed at). */
  record(model: string, id: string): string {
    return this.recordKey(modelCode(model), this.recordHash(model, id));
  }

  recordKey(code: string, hash: string): string {
    return `${this.prefix}${code}:{${hash}}`;
  }

  /**
   * The ReplayDetection record of a JWT (`iss`, `jti`): the key oidc-provider's own
   * `ReplayDetection.unique` writes through the adapter (id = SHA-256(iss ∥ jti), base64url), so a
   * client assertion spent at /token cannot be spent again at /introspect, nor the reverse.
   */
  replayDetection(iss: string, jti: string): string {
    return this.record('ReplayDetection', createHash('sha256').update(`${iss}${jti}`).digest('base64url'));
  }

  grant(grantId: string): string {
    return this.recordKey('g', this.recordHash('Grant', grantId));
  }

  /** What a token record keeps to find its grant (scripts rebuild `<prefix>g:{hash}`). */
  grantHash(grantId: string): string {
    return this.recordHash('Grant', grantId);
  }

  /**
   * Sorted set of a grant's tokens, scored by expiry (ms). Same slot as the grant. Members are
   * `<model code>:<record hash>` (`grantMember`), not the whole record key: a third shorter, and there
   * is one per token. An index written before issue 16 holds whole record keys; both are read.
   */
  grantMembers(grantId: string): string {
    return `${this.grant(grantId)}:tokens`;
  }

  /** A grant index member of the record `model`/`id`. */
  grantMember(model: string, id: string): string {
    return `${modelCode(model)}:${this.recordHash(model, id)}`;
  }

  /** The record key a grant index member stands for (a whole key, as indices before issue 16 held, is one already). */
  grantMemberKey(member: string): string {
    if (member.includes('{')) return member;
    const colon = member.lastIndexOf(':');
    return this.recordKey(member.slice(0, colon), member.slice(colon + 1));
  }

  /** The hash-tag body of an account: stored in records (`a`) so scripts can find the account. */
  accountHash(accountId: string): string {
    return this.hash('acct', accountId);
  }

  /**
   * An account's profile, password hash, roles and revocation state (Redis hash). Fields:
   * sub, username, password (a hash: Latch's scrypt, or an imported scrypt/bcrypt hash until the
   * first login upgrades it), email, name, roles, disabled ('1'), must_change ('1': a new password
   * is asked for at the next login), created and password_changed (ms), reset (a reset link:
   * `<keyed hash of its secret> <expiry ms>`), pwc (a pending forced change at login, same form),
   * epoch (ms: everything born at or before it is dead), `ce:<client_id>` (ms: same, for one client).
   */
  account(accountId: string): string {
    return this.accountByHash(this.accountHash(accountId));
  }

  accountByHash(accountHash: string): string {
    return `${this.prefix}acct:{a.${accountHash}}`;
  }

  /** Sorted set of an account's grant keys, scored by expiry (ms). */
  accountGrants(accountId: string): string {
    return `${this.account(accountId)}:grants`;
  }

  /** Sorted set of an account's session record keys, scored by expiry (ms). */
  accountSessions(accountId: string): string {
    return `${this.account(accountId)}:sessions`;
  }

  /** Hash of device metadata (where, when, which browser) per grant key hash. */
  accountDevices(accountId: string): string {
    return `${this.account(accountId)}:devices`;
  }

  /**
   * Failed-login counters (hash: n, last) for a username, across all addresses or for one address.
   * Keyed by username (known or not), so throttling answers the same for unknown users.
   */
  loginFailures(username: string, ip?: string): string {
    const tag = `${this.prefix}lf:{u.${this.hash('user', username.toLowerCase())}}`;
    return ip === undefined ? tag : `${tag}:${this.hash('ip', ip)}`;
  }

  /**
   * A rate-limit counter (string, INCRBY) for one fixed window (src/rate-limit/). `family` names
   * the endpoint and scope (`token:client`), `id` is the client id or address, hashed like every
   * identifier (addresses are personal data), `window` the window's number since the epoch, so each
   * window's counter is a new key that expires by itself. Only ever touched by single-key commands.
   */
  rateLimit(family: string, id: string, window: number): string {
    return `${this.prefix}rl:${family}:{${this.hash('rl', id)}}:${window}`;
  }

  /** List of the account's recent logins (JSON, newest first, capped). */
  accountLogins(accountId: string): string {
    return `${this.account(accountId)}:logins`;
  }

  /** Sorted set of a client's grant keys (for revoking a compromised client), scored by expiry. */
  clientGrants(clientId: string): string {
    return `${this.prefix}client:{c.${this.hash('client', clientId)}}:grants`;
  }

  /** Sorted set of a client's grant-less token keys (client credentials), scored by expiry. */
  clientTokens(clientId: string): string {
    return `${this.prefix}client:{c.${this.hash('client', clientId)}}:tokens`;
  }

  /**
   * The high-water mark (ms) of every birth and epoch stamped (scripts.ts UPSERT and STAMP_EPOCH):
   * keeps "born at or before the epoch is dead" exact when Redis's clock steps back. Never expires.
   */
  clock(): string {
    return `${this.prefix}clock`;
  }

  /**
   * A client managed at run time (src/clients/: admin API, dynamic registration): one string,
   * JSON `{metadata, secret, previous, managed_by, …}` (client-records.ts). Its secrets only as
   * keyed hashes (`secretDigest`), never in clear.
   */
  managedClient(clientId: string): string {
    return `${this.prefix}mc:{${this.hash('mc', clientId)}}`;
  }

  /** Set of the ids of every managed client (listings and the CSP origins; never a request path's lookup). */
  managedClients(): string {
    return `${this.prefix}mc:index`;
  }

  /**
   * The full keyed hash (HMAC-SHA256 under the token-hashing key, 256 bits) of a credential that
   * Latch generated (a client secret): what is stored and compared in place of the secret. A
   * generated secret has 256 bits of entropy, so a fast keyed hash is enough (no password hash:
   * `/introspect` checks it on every cache miss).
   */
  secretDigest(domain: string, id: string, secret: string): Buffer {
    return createHmac('sha256', this.#hashKey).update(`${domain}\0${id}\0${secret}`).digest();
  }

  /**
   * An initial access token's Latch side (hash: `policy` JSON, `uses` left), beside its oidc-provider
   * record in the same slot; it dies with the token (same expiry).
   */
  initialAccessTokenPolicy(tokenId: string): string {
    return `${this.record('InitialAccessToken', tokenId)}:policy`;
  }

  /** Hash client_id → revocation epoch (ms) for whole-client revocation. */
  clientEpochs(): string {
    return `${this.prefix}client-epochs`;
  }

  /**
   * Managed configuration changes (src/live/): a counter bumped on every change and the pub/sub
   * channel that announces it, so every process drops its in-memory copy within a second.
   */
  liveVersion(): string {
    return `${this.prefix}live:version`;
  }

  liveChannel(): string {
    return `${this.prefix}live`;
  }

  /**
   * A resource server registered at run time (src/apis/): a Redis hash with fields audience, name,
   * scopes, claims, introspectors (JSON arrays), ttl (seconds), created and updated (ms), rev (a
   * counter: updates compare it, so two admins never overwrite each other unseen). Keyed by a hash
   * of the audience (a URI of any length and character); every API key and the index share the hash
   * tag `{apis}`, so create, update and delete are each one script, on a Redis Cluster too (there are
   * tens of APIs, not millions: one slot holds them).
   */
  api(audience: string): string {
    return `${this.prefix}api:{apis}:${this.hash('api', audience)}`;
  }

  /** Set of the audiences of every API registered at run time (same slot as the API hashes). */
  apiIndex(): string {
    return `${this.prefix}api:{apis}:index`;
  }

  /** Pub/sub channel and Stream of revocation and security events (docs/events.md). */
  eventsChannel(): string {
    return `${this.prefix}events`;
  }

  eventsStream(): string {
    return `${this.prefix}events:stream`;
  }

  /**
   * Back-channel logout deliveries (src/backchannel/): a Stream read through the consumer group
   * `latch` by every process, and a sorted set of deliveries waiting for their next attempt
   * (score = due time, ms). One hash tag, so the scripts that move an entry between them run on
   * one Redis Cluster slot.
   */
  backchannelQueue(): string {
    return `${this.prefix}{bcl}:queue`;
  }

  backchannelRetries(): string {
    return `${this.prefix}{bcl}:retry`;
  }

  /**
   * The `sid` a grant's client received in its ID token (string, the grant's hash tag, TTL of a
   * grant): back-channel logout names that RP session when the grant ends, also after the browser
   * session that held the grant is gone, so it outlives the grant's own record on purpose.
   */
  grantSid(grantHash: string): string {
    return `${this.recordKey('g', grantHash)}:sid`;
  }

  /** Stream of admin writes (audit log). */
  auditStream(): string {
    return `${this.prefix}audit`;
  }

  /** Progress of a background cleanup job (hash: total, done, state). */
  job(jobId: string): string {
    return `${this.prefix}job:{${jobId}}`;
  }

  /** Secondary lookup of a Session by its uid: holds the session's record key. */
  sessionUid(uid: string): string {
    return this.sessionUidByHash(this.sessionUidHash(uid));
  }

  /** What a session-bound token keeps to find its session (scripts rebuild `<prefix>s-uid:{hash}`). */
  sessionUidByHash(uidHash: string): string {
    return `${this.prefix}s-uid:{${uidHash}}`;
  }

  sessionUidHash(uid: string): string {
    return this.hash('s-uid', uid);
  }

  /** Secondary lookup of a device flow record by user code: holds the record key. */
  userCode(userCode: string): string {
    return `${this.prefix}uc:{${this.hash('uc', userCode)}}`;
  }

  /**
   * The account list's indices (sorted sets, every score 0, read with ZRANGEBYLEX): members
   * `<lower-cased username> NUL <sub>` and `<lower-cased email> NUL <sub>`, so a prefix search and
   * a cursor are one range read, never a KEYS or SCAN. Listings only: never the kill switch.
   */
  accountsByUsername(): string {
    return `${this.prefix}accounts:by-username`;
  }

  accountsByEmail(): string {
    return `${this.prefix}accounts:by-email`;
  }

  /**
   * Shared Signals (src/ssf/, docs/shared-signals.md). Every SSF key carries the hash tag `{ssf}`:
   * one slot, so publishing an event to every stream is one script on a Redis Cluster too.
   * The set of every stream id.
   */
  ssfStreams(): string {
    return `${this.prefix}{ssf}:streams`;
  }

  /**
   * What the fan-out script prepends to a stream id: `<prefix>{ssf}:s:<id>` is the stream's hash,
   * `:subjects` / `:csubjects` its listed simple / complex subjects, `:q` its queue, `:jti` its
   * jti → queue entry index (poll acknowledgements).
   */
  ssfStreamPrefix(): string {
    return `${this.prefix}{ssf}:s:`;
  }

  ssfStream(streamId: string): string {
    return `${this.ssfStreamPrefix()}${streamId}`;
  }

  ssfSubjects(streamId: string): string {
    return `${this.ssfStream(streamId)}:subjects`;
  }

  ssfComplexSubjects(streamId: string): string {
    return `${this.ssfStream(streamId)}:csubjects`;
  }

  ssfQueue(streamId: string): string {
    return `${this.ssfStream(streamId)}:q`;
  }

  ssfJtis(streamId: string): string {
    return `${this.ssfStream(streamId)}:jti`;
  }

  /** Present while a stream's last verification request is younger than `min_verification_interval` (PX). */
  ssfVerifyGate(streamId: string): string {
    return `${this.ssfStream(streamId)}:verify`;
  }

  /** Set of the stream ids of one receiver (a client id, hashed like every identifier). */
  ssfReceiver(clientId: string): string {
    return `${this.prefix}{ssf}:r:${this.hash('ssf-receiver', clientId)}`;
  }

  /** Sorted set of push streams with events to deliver, scored by when to try next (ms). */
  ssfDue(): string {
    return `${this.prefix}{ssf}:due`;
  }

  /** Sorted set of every stream, scored by its receiver's last activity (ms): inactivity_timeout. */
  ssfActive(): string {
    return `${this.prefix}{ssf}:active`;
  }

  /** The process delivering a push stream right now (random owner token, PX-bounded). */
  ssfLease(streamId: string): string {
    return `${this.prefix}{ssf}:lease:${streamId}`;
  }

  /** Who runs the inactivity sweep right now (one process at a time across instances). */
  ssfSweepLock(): string {
    return `${this.prefix}{ssf}:sweep`;
  }

  /** Pub/sub channel: space-separated ids of streams that just got events (wakes pollers and pushers). */
  ssfWake(): string {
    return `${this.prefix}{ssf}:wake`;
  }

  /** Username → account id. Usernames are looked up case-insensitively. */
  username(username: string): string {
    return `${this.prefix}user:{${this.hash('user', username.toLowerCase())}}`;
  }
}
