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

/** Writes the record KEYS[1] born at `t` (ARGV as in UPSERT). */
const WRITE_RECORD = `local value = table.concat({t, '', ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[1]}, '\\31')
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], value)
end`;

/** Own lineage: keep the original birth across re-saves, unless the account changed
 *  (an anonymous browser session that is now logged in starts a new life). */
const OWN_BIRTH = `local old = split(redis.call('GET', KEYS[1]) or '')
if old and old[3] == ARGV[3] then t = old[1] else t = tostring(ms) end`;

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
 * KEYS[1] record, KEYS[2] lineage source (a grant record, or KEYS[1] itself), KEYS[3..] indices.
 * ARGV: payload, ttl ms ('' = none), account hash, client id, grant hash, session-uid hash ('' =
 * none for each), then a (member, expiry ms or 'inf') pair per index. Returns the birth.
 * Single-server only (its keys live in different slots); a cluster runs UPSERT_RECORD + INDEX_ADD.
 */
export const UPSERT = `${NOW_MS}
${SPLIT}
${INDEX_ADD_FN}
local t
if KEYS[2] == KEYS[1] then
  ${OWN_BIRTH}
else
  local grant = split(redis.call('GET', KEYS[2]) or '')
  if grant then t = grant[1] else t = '0' end
end
${WRITE_RECORD}
for i = 3, #KEYS do
  index_add(KEYS[i], ARGV[7 + (i - 3) * 2], ARGV[8 + (i - 3) * 2])
end
return t
`;

/**
 * The cluster form of UPSERT's record write, on the record's own slot. KEYS[1] record; ARGV as in
 * UPSERT's first six, then ARGV[7]: the birth read from the grant beforehand ('' = own lineage).
 */
export const UPSERT_RECORD = `${NOW_MS}
${SPLIT}
local t = ARGV[7]
if t == '' then
  ${OWN_BIRTH}
end
${WRITE_RECORD}
return t
`;

/** The cluster form of UPSERT's index updates: KEYS[1] an index, ARGV member and expiry. */
export const INDEX_ADD = `${NOW_MS}
${INDEX_ADD_FN}
index_add(KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/**
 * The one read of the hot path. KEYS: candidate record keys (first found wins); ARGV[1]: key prefix.
 * Returns {index, p, c, t, grant p, grant t, disabled, epoch, account-client epoch, client epoch,
 * username, email, name, roles, session p, session t, client id, grant client id} or nil. Validity is decided by the
 * caller (record-state.ts).
 */
export const FETCH = `${SPLIT}
for i, key in ipairs(KEYS) do
  local r = split(redis.call('GET', key) or '')
  if r then
    local out = {i, r[7], r[2], r[1], '', '', '', '', '', '', '', '', '', '', '', '', r[4], ''}
    if r[5] ~= '' then
      local g = split(redis.call('GET', ARGV[1] .. 'g:{' .. r[5] .. '}') or '')
      if g then
        out[5] = g[7]
        out[6] = g[1]
        out[18] = g[4]
      end
    end
    if r[3] ~= '' then
      local acct = redis.call('HMGET', ARGV[1] .. 'acct:{a.' .. r[3] .. '}',
        'disabled', 'epoch', 'ce:' .. r[4], 'username', 'email', 'name', 'roles')
      out[7], out[8], out[9] = acct[1] or '', acct[2] or '', acct[3] or ''
      out[11], out[12], out[13], out[14] = acct[4] or '', acct[5] or '', acct[6] or '', acct[7] or ''
    end
    if r[4] ~= '' then
      out[10] = redis.call('HGET', ARGV[1] .. 'client-epochs', r[4]) or ''
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
    return out
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

/** Removes a grant's members of one model (by key prefix) and returns them, on the grant's slot. */
export const TAKE_GRANT_MEMBERS = `
local out = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(member, 1, string.len(ARGV[1])) == ARGV[1] then
    out[#out + 1] = member
  end
end
if #out > 0 then redis.call('ZREM', KEYS[1], unpack(out)) end
return out
`;

/**
 * Sets revocation epochs to Redis's now, or to ARGV[1] (ms) when that is later. KEYS[1] a hash;
 * ARGV[2..]: field names. Returns the epoch (ms). Everything born at or before the epoch is dead:
 * this single write is the whole revocation. (On a cluster ARGV[1] is the latest clock among the
 * primaries, which stamp births: see RedisStore.stampEpoch.)
 */
export const STAMP_EPOCH = `${NOW_MS}
local at = math.max(ms, tonumber(ARGV[1]) or 0)
for i = 2, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], at) end
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
 * index, KEYS[2] the account hash; ARGV[1] the subject, then field/value pairs. An existing account
 * hash, live or a deletion's tombstone, is never overwritten: a deleted subject stays deleted.
 * Returns 'created', 'exists' (the account hash) or 'taken' (the username, by another subject).
 */
export const CREATE_ACCOUNT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 'exists' end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 'taken' end
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
return 'created'
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
