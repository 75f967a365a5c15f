/**
 * Lua scripts of the Shared Signals transmitter (src/ssf/). Every key they touch carries the hash
 * tag `{ssf}` (keys.ts), so each runs on one slot, on a Redis Cluster as well; keys derived inside
 * a script share that slot by construction.
 */

/**
 * Enqueues one Latch event's SETs on every stream that takes them, atomically per event:
 * status (`disabled` holds nothing; `enabled` and `paused` queue), `events` (the stream's
 * events_delivered, space-separated), its subjects (SSF §8.1.3.1: `ALL` delivers unless a listed
 * subject matches, `NONE` only if one does; simple subjects match exactly, complex ones field by
 * field, an absent field matching anything) and the queue bound: a full queue is never trimmed.
 * The stream is disabled instead (`lagged` = 1, reason), one stream-updated notice is queued past
 * the bound, and every later event it would have taken is counted in `lost`.
 *
 * KEYS[1] the set of stream ids. ARGV: [1] stream key prefix, [2] due zset, [3] wake channel,
 * [4] now (ms), [5] queue bound, [6] principals JSON `{keys, fields, email}`, [7] events JSON
 * `[{type, seed, claims, emailClaims}]`, [8] the stream-updated notice claims without `sub_id`
 * (JSON), [9] the notice's reason.
 * Returns `{enqueued per event…, lost, overflowed}`.
 */
export const SSF_FANOUT = `
local prefix, due, wake, now, bound = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local p = cjson.decode(ARGV[6])
local events = cjson.decode(ARGV[7])
local UPDATED = 'https://schemas.openid.net/secevent/ssf/event-type/stream-updated'

local function simple_hit(base)
  for _, k in ipairs(p.keys) do
    if redis.call('SISMEMBER', base .. ':subjects', k) == 1 then return k end
  end
  return nil
end

local function complex_hit(base)
  for _, raw in ipairs(redis.call('SMEMBERS', base .. ':csubjects')) do
    local pattern = cjson.decode(raw)
    local ok = true
    for field, want in pairs(pattern) do
      local have = p.fields[field]
      if have ~= nil then
        local found = false
        for _, v in ipairs(have) do
          if v == want then found = true break end
        end
        if not found then ok = false break end
      end
    end
    if ok then return pattern end
  end
  return nil
end

-- Whether a listed subject matches the event, and whether it named the user by email.
local function listed(base)
  local k = simple_hit(base)
  if k then return true, k == p.email end
  local pattern = complex_hit(base)
  if pattern then return true, pattern.user ~= nil and pattern.user == p.email end
  return false, false
end

local counts = {}
for i = 1, #events do counts[i] = 0 end
local lost, overflowed, woken = 0, 0, {}

for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local base = prefix .. id
  local s = redis.call('HMGET', base, 'status', 'events', 'subjects', 'method', 'lagged')
  local status = s[1]
  if not status then
    redis.call('SREM', KEYS[1], id)
  else
    local wanted, subjectsChecked, deliver, viaEmail = ' ' .. (s[2] or '') .. ' ', false, false, false
    local queue = base .. ':q'
    for i, ev in ipairs(events) do
      if string.find(wanted, ' ' .. ev.type .. ' ', 1, true) then
        if not subjectsChecked then
          subjectsChecked = true
          local hit, email = listed(base)
          if s[3] == 'NONE' then deliver, viaEmail = hit, email else deliver = not hit end
        end
        if deliver then
          if status == 'disabled' then
            if s[5] == '1' then
              lost = lost + 1
              redis.call('HINCRBY', base, 'lost', 1)
            end
          elseif redis.call('XLEN', queue) >= bound then
            status = 'disabled'
            lost = lost + 1
            overflowed = overflowed + 1
            local notice = cjson.decode(ARGV[8])
            notice.sub_id = { format = 'opaque', id = id }
            notice.events = { [UPDATED] = { status = 'disabled', reason = ARGV[9] } }
            redis.call('HSET', base, 'status', 'disabled', 'reason', ARGV[9], 'lagged', '1', 'disabled_at', now)
            redis.call('HINCRBY', base, 'lost', 1)
            local jti = redis.sha1hex(ev.seed .. ':' .. id .. ':notice')
            local entry = redis.call('XADD', queue, '*', 'j', jti, 'c', cjson.encode(notice))
            if s[4] == 'poll' then redis.call('HSET', base .. ':jti', jti, entry) end
            woken[#woken + 1] = id
          else
            local claims = ev.claims
            if viaEmail and ev.emailClaims ~= '' then claims = ev.emailClaims end
            local jti = redis.sha1hex(ev.seed .. ':' .. id)
            local entry = redis.call('XADD', queue, '*', 'j', jti, 'c', claims)
            if s[4] == 'poll' then redis.call('HSET', base .. ':jti', jti, entry) end
            counts[i] = counts[i] + 1
            woken[#woken + 1] = id
          end
        end
      end
    end
  end
end

if #woken > 0 then
  local seen, ids = {}, {}
  for _, id in ipairs(woken) do
    if not seen[id] then
      seen[id] = true
      ids[#ids + 1] = id
      if redis.call('HGET', prefix .. id, 'method') == 'push' then redis.call('ZADD', due, 'NX', now, id) end
    end
  end
  redis.call('PUBLISH', wake, table.concat(ids, ' '))
end
counts[#counts + 1] = lost
counts[#counts + 1] = overflowed
return counts
`;

/**
 * Queues one SET for one stream (a verification), past the queue bound if need be — it answers
 * the receiver — but never past a hard limit (ARGV[6]: the bound plus some room), whatever
 * `min_verification_interval` allows.
 * KEYS[1] the stream hash. ARGV: [1] jti, [2] claims JSON, [3] due zset, [4] wake channel, [5] now,
 * [6] the hard limit. Returns 1, 0 when the stream is gone, -1 when the queue is at the limit.
 */
export const SSF_ENQUEUE_ONE = `
local method = redis.call('HGET', KEYS[1], 'method')
if not method then return 0 end
if redis.call('XLEN', KEYS[1] .. ':q') >= tonumber(ARGV[6]) then return -1 end
local id = string.match(KEYS[1], '[^:]+$')
local entry = redis.call('XADD', KEYS[1] .. ':q', '*', 'j', ARGV[1], 'c', ARGV[2])
if method == 'poll' then redis.call('HSET', KEYS[1] .. ':jti', ARGV[1], entry) end
if method == 'push' then redis.call('ZADD', ARGV[3], 'NX', ARGV[5], id) end
redis.call('PUBLISH', ARGV[4], id)
return 1
`;

/**
 * RFC 8936 §2.3 acknowledgements: removes the acknowledged (or refused, `setErrs`) SETs from the
 * queue. KEYS[1] the queue, KEYS[2] its jti index; ARGV the jtis. Returns how many were queued.
 */
export const SSF_ACK = `
local n = 0
for _, jti in ipairs(ARGV) do
  local entry = redis.call('HGET', KEYS[2], jti)
  if entry then
    n = n + redis.call('XDEL', KEYS[1], entry)
    redis.call('HDEL', KEYS[2], jti)
  end
end
return n
`;

/**
 * A pusher found the queue empty: the stream leaves the due set, unless an event arrived in the
 * meantime (then it stays due and its length is returned). KEYS[1] the queue, KEYS[2] the due
 * zset; ARGV[1] the stream id.
 */
export const SSF_IDLE = `
local n = redis.call('XLEN', KEYS[1])
if n == 0 then redis.call('ZREM', KEYS[2], ARGV[1]) end
return n
`;

/** Extends a lease if its owner still holds it. KEYS[1] the lease; ARGV: [1] owner, [2] ms. */
export const SSF_RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/**
 * Creates a stream unless its receiver already has `limit` of them. KEYS: [1] the set of streams,
 * [2] the receiver's set, [3] the stream hash, [4] the activity zset. ARGV: [1] id, [2] limit,
 * [3] now, then field/value pairs. Returns 1, or 0 at the limit.
 */
export const SSF_CREATE = `
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 0 end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[3], unpack(fields))
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
return 1
`;
