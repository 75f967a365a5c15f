/**
 * Lua scripts. Each runs atomically inside Redis and stamps times with Redis's own clock (TIME),
 * so every Latch instance compares births and revocation epochs on one clock.
 *
 * Record fields (a Redis hash per stored entity):
 *   p  payload JSON (without its id)          c  consumed at (epoch seconds)
 *   t  birth (ms): for a grant's tokens, the birth of the grant (their lineage), so a token
 *      minted from an old grant by a refresh racing a revocation is born already dead
 *   a  account hash (finds the account's revocation state)   k  client_id   g  grant record key
 *   s  session-uid index key, for tokens that expire with their browser session
 */

/** Milliseconds from Redis TIME. */
const NOW_MS = `local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)`;

/**
 * KEYS[1] record, KEYS[2] lineage source (a grant record, or KEYS[1] itself), KEYS[3..] indices.
 * ARGV: payload, ttl ms ('' = none), account hash, client id, grant key, session-uid key ('' =
 * none for each), then a (member, expiry ms or 'inf') pair per index.
 */
export const UPSERT = `${NOW_MS}
local t
if KEYS[2] == KEYS[1] then
  -- Own lineage: keep the original birth across re-saves, unless the account changed
  -- (an anonymous browser session that is now logged in starts a new life).
  local old = redis.call('HMGET', KEYS[1], 't', 'a')
  if old[1] and (old[2] or '') == ARGV[3] then t = old[1] else t = ms end
else
  t = redis.call('HGET', KEYS[2], 't') or 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'p', ARGV[1], 't', t)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'a', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'k', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'g', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 's', ARGV[6]) end
if ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
for i = 3, #KEYS do
  local member = ARGV[7 + (i - 3) * 2]
  local expires = ARGV[8 + (i - 3) * 2]
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ms)
  redis.call('ZADD', KEYS[i], expires, member)
  if expires == 'inf' then
    redis.call('PERSIST', KEYS[i])
  else
    local want = tonumber(expires) - ms
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl >= 0 and ttl < want then redis.call('PEXPIRE', KEYS[i], want) end
    if ttl == -1 then redis.call('PEXPIRE', KEYS[i], want) end
  end
end
return t
`;

/**
 * The one read of the hot path. KEYS: candidate record keys (first found wins); ARGV[1]: key prefix.
 * Returns {index, p, c, t, grant p, grant t, disabled, epoch, account-client epoch, client epoch,
 * username, email, name, roles, session p, session found} or nil. Validity is decided by the caller
 * (record-state.ts).
 */
export const FETCH = `
for i, key in ipairs(KEYS) do
  local r = redis.call('HMGET', key, 'p', 'c', 't', 'a', 'k', 'g', 's')
  if r[1] then
    local out = {i, r[1], r[2] or '', r[3] or '0', '', '', '', '', '', '', '', '', '', '', '', ''}
    if r[6] then
      local g = redis.call('HMGET', r[6], 'p', 't')
      out[5] = g[1] or ''
      out[6] = g[2] or ''
    end
    if r[4] then
      local acct = redis.call('HMGET', ARGV[1] .. 'acct:{a.' .. r[4] .. '}',
        'disabled', 'epoch', 'ce:' .. (r[5] or ''), 'username', 'email', 'name', 'roles')
      out[7], out[8], out[9] = acct[1] or '', acct[2] or '', acct[3] or ''
      out[11], out[12], out[13], out[14] = acct[4] or '', acct[5] or '', acct[6] or '', acct[7] or ''
    end
    if r[5] then
      out[10] = redis.call('HGET', ARGV[1] .. 'client-epochs', r[5]) or ''
    end
    if r[7] then
      local sessionKey = redis.call('GET', r[7])
      if sessionKey then
        local sp = redis.call('HMGET', sessionKey, 'p', 't')
        if sp[1] then
          out[15] = sp[1]
          out[16] = sp[2] or '0'
        end
      end
    end
    return out
  end
end
return nil
`;

/** KEYS[1] record. ARGV[1] now (s). Returns {1|0|-1, p}: consumed now, already consumed, missing. */
export const CONSUME = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, false} end
local set = redis.call('HSETNX', KEYS[1], 'c', ARGV[1])
return {set, redis.call('HGET', KEYS[1], 'p')}
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
 * Sets revocation epochs to Redis's now. KEYS[1] a hash; ARGV: field names. Returns the epoch (ms).
 * Everything born at or before the epoch is dead: this single write is the whole revocation.
 */
export const STAMP_EPOCH = `${NOW_MS}
for _, field in ipairs(ARGV) do redis.call('HSET', KEYS[1], field, ms) end
return ms
`;
