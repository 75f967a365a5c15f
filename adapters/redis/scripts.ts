import { TOMBSTONE } from './record-codec.js';

/**
 * Lua scripts. Each runs atomically inside Redis and stamps times with Redis's own clock (TIME),
 * so every Latch instance compares births and revocation epochs on one clock. Records are strings
 * laid out as record-codec.ts describes: t ␟ c ␟ a ␟ k ␟ g ␟ s ␟ p.
 */

/** Milliseconds from Redis TIME. */
const NOW_MS = `local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)`;

/** Splits a record string into its seven fields (the payload last, kept whole). */
const SPLIT = `local function split(v)
  local out, pos = {}, 1
  for i = 1, 6 do
    local e = string.find(v, '\\31', pos, true)
    if not e then return nil end
    out[i] = string.sub(v, pos, e - 1)
    pos = e + 1
  end
  out[7] = string.sub(v, pos)
  return out
end`;

/** The tombstone value as a Lua string literal (record-codec.ts). */
const TOMB = `local TOMB = '\\31${TOMBSTONE.slice(1)}'`;

/**
 * Writes the record KEYS[1] born at `t` (ARGV as in UPSERT). A compact access token (`compact`:
 * its grant holds its birth, account and id) is written with an empty birth, the account
 * `compact_a` ('' on one server, where FETCH reads the account after the grant anyway) and the
 * payload without its grant id; FETCH takes them from the grant.
 */
const WRITE_RECORD = `local value
if compact then
  value = table.concat({'', '', compact_a, ARGV[4], ARGV[5], ARGV[6], compact}, '\\31')
else
  value = table.concat({t, '', ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[1]}, '\\31')
end
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], value)
end`;

/** Adds `member` (expiring at `expires` ms, or 'inf') to the index zset `key`, trimming the expired. */
const INDEX_ADD_FN = `local function index_add(key, member, expires)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ms)
  redis.call('ZADD', key, expires, member)
  if expires == 'inf' then
    redis.call('PERSIST', key)
  else
    local want = tonumber(expires) - ms
    local ttl = redis.call('PTTL', key)
    if ttl == -1 or (ttl >= 0 and ttl < want) then redis.call('PEXPIRE', key, want) end
  end
end`;

/**
 * The birth of a record of its own lineage (not a grant's token), from `current` (its value now)
 * and, for a renamed session, `source` (the value under its previous id): the birth, or nil when
 * the record (or the session it is renamed from) was deleted: a tombstone is never written
 * over, and a rename of a deleted session is no rename. The original birth is kept across
 * re-saves and renames unless the account changed (an anonymous browser session that is now logged
 * in starts a new life at `born`).
 */
const OWN_BIRTH = `local function own_birth(current, source, born)
  if current == TOMB then return nil end
  local old = split(current or '')
  if old then
    if old[3] == ARGV[3] then return old[1] end
    return born
  end
  if source == TOMB then return nil end
  local previous = split(source or '')
  if previous and previous[3] == ARGV[3] then return previous[1] end
  return born
end`;

/**
 * KEYS[1] record, KEYS[2] lineage source (a grant record for a grant's tokens; the previous record
 * of a renamed session; else KEYS[1] itself), KEYS[3] the birth high-water mark, KEYS[4..] indices.
 * ARGV: payload, ttl ms ('' = none), account hash, client id, grant hash, session-uid hash ('' =
 * none for each), lineage ('grant' | 'rename' | 'own'), the compact payload of an access token held
 * in a grant ('' = none: see WRITE_RECORD), then a (member, expiry ms or 'inf') pair per index. Returns the birth, or '' when the write was refused (the record or its source is a
 * tombstone). A renamed session's previous record becomes a tombstone in the same step, and leaves
 * the indices.
 *
 * Births never go below the high-water mark of births and epochs (KEYS[3]): after a clock step back
 * (a failover to a replica whose clock is behind, an NTP or VM step), a record written later still
 * reads as born after every revocation stamped before it, and every record written earlier reads as
 * born at or before a revocation stamped later (STAMP_EPOCH).
 * Single-server only (its keys live in different slots); a cluster runs UPSERT_RECORD + INDEX_ADD.
 */
export const UPSERT = `${NOW_MS}
${TOMB}
${SPLIT}
${INDEX_ADD_FN}
${OWN_BIRTH}
local mark = tonumber(redis.call('GET', KEYS[3]) or '0')
local born = tostring(math.max(ms, mark))
local t
local compact, compact_a = nil, ''
if ARGV[7] == 'grant' then
  if redis.call('GET', KEYS[1]) == TOMB then return '' end
  local grant = split(redis.call('GET', KEYS[2]) or '')
  if grant then t = grant[1] else t = '0' end
  -- Compact only under a live grant of the same account that holds its own id (written since issue 16).
  if grant and ARGV[8] ~= '' and grant[3] == ARGV[3] and string.sub(grant[7], 1, 8) == '{"jti":"' then compact = ARGV[8] end
else
  local source = nil
  if ARGV[7] == 'rename' then source = redis.call('GET', KEYS[2]) end
  t = own_birth(redis.call('GET', KEYS[1]), source, born)
  if not t then return '' end
  if source and source ~= TOMB then redis.call('SET', KEYS[2], TOMB, 'KEEPTTL') end
end
if tonumber(t) > mark then redis.call('SET', KEYS[3], t) end
${WRITE_RECORD}
for i = 4, #KEYS do
  index_add(KEYS[i], ARGV[9 + (i - 4) * 2], ARGV[10 + (i - 4) * 2])
  -- A renamed session's index entries move to its new id.
  if ARGV[7] == 'rename' then redis.call('ZREM', KEYS[i], KEYS[2]) end
end
return t
`;

/**
 * The cluster form of UPSERT's record write, on the record's own slot. KEYS[1] record; ARGV as in
 * UPSERT's first seven, then ARGV[8]: for 'grant', the birth read from the grant beforehand; for
 * 'rename', the previous record's value read beforehand (the caller retires it with RETIRE); ARGV[9]
 * the compact payload, when the caller found the grant fit for it ('' = none).
 * Returns the birth, or '' when refused. (No high-water mark on a cluster: scale-out.md.)
 */
export const UPSERT_RECORD = `${NOW_MS}
${TOMB}
${SPLIT}
${OWN_BIRTH}
local t
local compact, compact_a = nil, ARGV[3]
if ARGV[7] == 'grant' then
  if redis.call('GET', KEYS[1]) == TOMB then return '' end
  t = ARGV[8]
  -- The caller checked the grant as UPSERT does; the account stays (FETCH reads it beside the grant).
  if ARGV[9] ~= '' and t ~= '0' then compact = ARGV[9] end
else
  local source = nil
  if ARGV[7] == 'rename' then source = ARGV[8] end
  t = own_birth(redis.call('GET', KEYS[1]), source, tostring(ms))
  if not t then return '' end
end
${WRITE_RECORD}
return t
`;

/**
 * The cluster form of a session rename's second step, on the previous record's slot: turns it into
 * a tombstone and returns 1, or returns 0 when it already was one (deleted meanwhile: the caller
 * then buries the new record too, so a deletion racing a rename still wins).
 */
export const RETIRE = `${TOMB}
local v = redis.call('GET', KEYS[1])
if v == TOMB then return 0 end
if v then redis.call('SET', KEYS[1], TOMB, 'KEEPTTL') end
return 1
`;

/** The cluster form of UPSERT's index updates: KEYS[1] an index, ARGV member and expiry. */
export const INDEX_ADD = `${NOW_MS}
${INDEX_ADD_FN}
index_add(KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/**
 * The one read of the hot path. KEYS: candidate record keys (first found wins); ARGV[1]: key prefix.
 * Returns index, p, c, t, grant p, grant t, disabled, epoch, account-client epoch, client epoch,
 * username, email, name, roles, session p, session t, client id, grant client id, grant client's
 * account-client epoch, grant client's epoch, or nil. The last two are read only for a token held
 * in another client's grant (token exchange, RFC 8693): it dies with either client's revocations.
 * Validity is decided by the caller (record-state.ts).
 *
 * The fields come back as ONE string, separated by RS (0x1E, FETCH_SEP in record-state.ts): a
 * client parses one bulk string instead of a 20-element array. Payloads are JSON (no raw control
 * characters), ids and epochs never hold one; the account's profile fields are the admin's to
 * write, so RS and US (0x1F) are taken out of them here (a username cannot shift the fields after it).
 */
export const FETCH = `${SPLIT}
local function clean(v)
  if not v then return '' end
  if string.find(v, '[\\30\\31]') then return (string.gsub(v, '[\\30\\31]', '')) end
  return v
end
for i, key in ipairs(KEYS) do
  local r = split(redis.call('GET', key) or '')
  if r then
    local out = {i, r[7], r[2], r[1], '', '', '', '', '', '', '', '', '', '', '', '', r[4], '', '', ''}
    local account = r[3]
    if r[5] ~= '' then
      local g = split(redis.call('GET', ARGV[1] .. 'g:{' .. r[5] .. '}') or '')
      if g then
        out[5] = g[7]
        out[6] = g[1]
        out[18] = g[4]
        -- A compact access token: its birth and account are its grant's.
        if r[1] == '' then out[4] = g[1] end
        if account == '' then account = g[3] end
      end
    end
    -- A compact token whose grant is gone is born dead.
    if out[4] == '' then out[4] = '0' end
    local other = out[18] ~= '' and out[18] ~= r[4]
    if account ~= '' then
      local acct = redis.call('HMGET', ARGV[1] .. 'acct:{a.' .. account .. '}',
        'disabled', 'epoch', 'ce:' .. r[4], 'username', 'email', 'name', 'roles', 'ce:' .. out[18])
      out[7], out[8], out[9] = acct[1] or '', acct[2] or '', acct[3] or ''
      out[11], out[12], out[13], out[14] = clean(acct[4]), clean(acct[5]), clean(acct[6]), clean(acct[7])
      if other then out[19] = acct[8] or '' end
    end
    if r[4] ~= '' then
      out[10] = redis.call('HGET', ARGV[1] .. 'client-epochs', r[4]) or ''
    end
    if other then
      out[20] = redis.call('HGET', ARGV[1] .. 'client-epochs', out[18]) or ''
    end
    if r[6] ~= '' then
      local sessionKey = redis.call('GET', ARGV[1] .. 's-uid:{' .. r[6] .. '}')
      if sessionKey then
        local session = split(redis.call('GET', sessionKey) or '')
        if session then
          out[15] = session[7]
          out[16] = session[1]
        end
      end
    end
    return table.concat(out, '\\30')
  end
end
return nil
`;

/** KEYS[1] record. ARGV[1] now (s). Returns {1|0|-1, p, client id}: consumed now, already consumed, missing. */
export const CONSUME = `${SPLIT}
local r = split(redis.call('GET', KEYS[1]) or '')
if not r then return {-1, false} end
if r[2] ~= '' then return {0, r[7], r[4]} end
r[2] = ARGV[1]
redis.call('SET', KEYS[1], table.concat(r, '\\31'), 'KEEPTTL')
return {1, r[7], r[4]}
`;

/**
 * Removes a grant's members of one model and returns them, on the grant's slot: members starting
 * with ARGV[1] (`<code>:`) or, as indices before issue 16 held whole record keys, ARGV[2] (`<prefix><code>:{`).
 */
export const TAKE_GRANT_MEMBERS = `
local out = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(member, 1, string.len(ARGV[1])) == ARGV[1] or string.sub(member, 1, string.len(ARGV[2])) == ARGV[2] then
    out[#out + 1] = member
  end
end
if #out > 0 then redis.call('ZREM', KEYS[1], unpack(out)) end
return out
`;

/**
 * Sets revocation epochs to Redis's now, or to ARGV[1] (ms) when that is later. KEYS[1] a hash,
 * KEYS[2] (one server / Sentinel) the birth high-water mark; ARGV[2..]: field names. Returns the
 * epoch (ms). Everything born at or before the epoch is dead: this single write is the whole
 * revocation. The epoch is never below the high-water mark of births, so a record stamped by a
 * clock that ran ahead (then stepped back, or failed over to a slower replica) is not spared; the
 * mark moves past the epoch, so records born afterwards are alive. (On a cluster ARGV[1] is the
 * latest clock among the primaries, which stamp births: see RedisStore.stampEpoch.)
 */
export const STAMP_EPOCH = `${NOW_MS}
local at = math.max(ms, tonumber(ARGV[1]) or 0)
if KEYS[2] then at = math.max(at, tonumber(redis.call('GET', KEYS[2]) or '0')) end
for i = 2, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], at) end
if KEYS[2] then redis.call('SET', KEYS[2], at + 1) end
return at
`;

/**
 * A rate-limit counter (src/rate-limit/): KEYS[1] counter, ARGV[1] hits to add, ARGV[2] TTL (ms).
 * One key, so it runs on any Redis Cluster node; a script so the counter never exists without its
 * expiry (a crash between INCRBY and PEXPIRE would leave it forever).
 */
export const RATE_ADD = `
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return total
`;

/**
 * Creates an account and claims its username in one step (single server). KEYS[1] the username
 * index, KEYS[2] the account hash, KEYS[3] and KEYS[4] the account list's username and email
 * indices; ARGV[1] the subject, ARGV[2] its username index member, ARGV[3] its email index member
 * ('' = none), then field/value pairs. An existing account hash, live or a deletion's tombstone,
 * is never overwritten: a deleted subject stays deleted. Returns 'created', 'exists' (the account
 * hash) or 'taken' (the username, by another subject).
 */
export const CREATE_ACCOUNT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 'exists' end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 'taken' end
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('ZADD', KEYS[3], 0, ARGV[2])
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[4], 0, ARGV[3]) end
return 'created'
`;

/**
 * Changes a live account (one that has a username: not a deletion's tombstone). KEYS[1] the
 * account hash; ARGV[1] n, then n field/value pairs to set, then fields to delete. Returns 1, or 0
 * when there is no live account (nothing written).
 */
export const UPDATE_LIVE_ACCOUNT = `
if redis.call('HEXISTS', KEYS[1], 'username') == 0 then return 0 end
local n = tonumber(ARGV[1])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, 1 + 2 * n)) end
if #ARGV > 1 + 2 * n then redis.call('HDEL', KEYS[1], unpack(ARGV, 2 + 2 * n)) end
return 1
`;

/**
 * Issues a one-time ticket (a reset link, a forced change at login) on a live account: field
 * ARGV[1] of KEYS[1] becomes '<ARGV[2]> <expiry ms>', the expiry ARGV[3] ms from Redis's now, so
 * every instance judges it on one clock; a newer ticket replaces the older. Returns the expiry, or
 * 0 when there is no live account.
 */
export const ISSUE_TICKET = `${NOW_MS}
if redis.call('HEXISTS', KEYS[1], 'username') == 0 then return 0 end
local expires = ms + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. expires)
return expires
`;

/**
 * Sets (or, with ARGV[1] = '', removes) the password hash of a live account, atomically with the
 * check of the ticket that allows it. KEYS[1] the account hash; ARGV[1] the new hash, ARGV[2]
 * must_change ('0' | '1'), ARGV[3] the ticket field ('' = no ticket needed), ARGV[4] the ticket's
 * hash. Every change ends every ticket (a reset link dies with the password it was for) and stamps
 * password_changed. Returns 1, 0 (no live account) or -1 (the ticket is absent, another, or expired).
 */
export const SET_PASSWORD = `${NOW_MS}
if redis.call('HEXISTS', KEYS[1], 'username') == 0 then return 0 end
if ARGV[3] ~= '' then
  local ticket = redis.call('HGET', KEYS[1], ARGV[3])
  if not ticket then return -1 end
  local space = string.find(ticket, ' ', 1, true)
  if not space or string.sub(ticket, 1, space - 1) ~= ARGV[4] then return -1 end
  if tonumber(string.sub(ticket, space + 1)) <= ms then return -1 end
end
if ARGV[1] == '' then
  redis.call('HDEL', KEYS[1], 'password')
else
  redis.call('HSET', KEYS[1], 'password', ARGV[1])
end
redis.call('HSET', KEYS[1], 'must_change', ARGV[2], 'password_changed', ms)
redis.call('HDEL', KEYS[1], 'reset', 'pwc')
return 1
`;

/**
 * Replaces a verified password hash by its upgrade (same password, Latch's scrypt), only while it
 * is still the hash that was verified: a password changed meanwhile is never overwritten. KEYS[1]
 * the account hash; ARGV[1] the verified hash, ARGV[2] the new one. Returns 1 or 0.
 */
export const REHASH_PASSWORD = `
if redis.call('HGET', KEYS[1], 'password') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'password', ARGV[2])
return 1
`;

/** The cluster form's first step, on the account's slot: KEYS[1] the account hash, ARGV field/value pairs. */
export const CREATE_ACCOUNT_HASH = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 'created'
`;


/** Deletes KEYS[1] only while it still holds ARGV[1] (a username reused by another subject stays theirs). */
export const DELETE_IF_EQUAL = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
