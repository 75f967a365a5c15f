/**
 * Lua scripts of the back-channel logout queue (src/backchannel/logout-queue.ts). KEYS[1] is the
 * Stream of deliveries, KEYS[2] (where used) the sorted set of deliveries waiting for a retry;
 * both carry the `{bcl}` hash tag (keys.ts), so each script runs on one slot. Times are Redis's
 * own clock (TIME), the same for every Latch process.
 */

const NOW_MS = `local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)`;

/**
 * Settles a delivery (sent, or given up): acknowledges entry ARGV[2] in group ARGV[1] and deletes
 * it, so the Stream holds only what is still to do. Returns 1 when this call settled it, 0 when
 * someone else already had (a reclaimed entry delivered twice: the caller records nothing more).
 */
export const BCL_SETTLE = `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return acked
`;

/**
 * Schedules the next attempt of a failed delivery: acknowledges and deletes entry ARGV[2] of group
 * ARGV[1] and adds ARGV[4] (the entry with its attempt count raised) to KEYS[2], due ARGV[3] ms
 * from now, in one step: a crash leaves the delivery in one place or the other, never in neither.
 * Returns 0 (and schedules nothing) when the entry was already settled by another consumer.
 */
export const BCL_RETRY = `${NOW_MS}
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if acked == 1 then redis.call('ZADD', KEYS[2], ms + tonumber(ARGV[3]), ARGV[4]) end
return acked
`;

/**
 * Moves up to ARGV[1] deliveries whose time has come from KEYS[2] back into the Stream KEYS[1],
 * atomically (each is moved by exactly one of the processes that run this). Returns how many.
 */
export const BCL_PROMOTE = `${NOW_MS}
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ms, 'LIMIT', 0, tonumber(ARGV[1]))
for _, entry in ipairs(due) do
  redis.call('XADD', KEYS[1], '*', 'e', entry)
  redis.call('ZREM', KEYS[2], entry)
end
return #due
`;
