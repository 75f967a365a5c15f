/**
 * Lua scripts of the API store (api-store.ts). Every key they touch carries the hash tag `{apis}`
 * (keys.ts), so each is one atomic step on one server and on a Redis Cluster alike. Times come
 * from Redis's clock, the same for every instance.
 */

/** Milliseconds since the epoch, from Redis's clock. */
const NOW = `local t = redis.call('TIME')
local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))`;

/**
 * KEYS: api hash, index. ARGV: audience, name, scopes, claims, introspectors (JSON), ttl.
 * Returns the creation time (ms), or '' when the audience is already registered.
 */
export const CREATE_API = `
if redis.call('EXISTS', KEYS[1]) == 1 then return '' end
${NOW}
redis.call('HSET', KEYS[1], 'audience', ARGV[1], 'name', ARGV[2], 'scopes', ARGV[3], 'claims', ARGV[4],
  'introspectors', ARGV[5], 'ttl', ARGV[6], 'created', now, 'updated', now, 'rev', '1')
redis.call('SADD', KEYS[2], ARGV[1])
return now
`;

/**
 * KEYS: api hash. ARGV: the revision read, name, scopes, claims, introspectors (JSON), ttl.
 * Returns 'missing', 'changed' (another write landed since the read), or the update time (ms).
 */
export const UPDATE_API = `
local rev = redis.call('HGET', KEYS[1], 'rev')
if not rev then return 'missing' end
if rev ~= ARGV[1] then return 'changed' end
${NOW}
redis.call('HSET', KEYS[1], 'name', ARGV[2], 'scopes', ARGV[3], 'claims', ARGV[4], 'introspectors', ARGV[5],
  'ttl', ARGV[6], 'updated', now, 'rev', tostring(tonumber(rev) + 1))
return now
`;

/** KEYS: api hash, index. ARGV: audience. Returns 1 when it was registered, 0 otherwise. */
export const DELETE_API = `
local n = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return n
`;
