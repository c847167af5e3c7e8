-- Read all of one run at one instant: a checkpoint taken while the run goes on.
--
-- KEYS[1] meta  KEYS[2] applied  KEYS[3] results  KEYS[4] scopes  KEYS[5] tokens  KEYS[6] barriers
-- KEYS[7] dynamic  KEYS[8] graph  KEYS[9] frontier  KEYS[10] channel index  KEYS[11] feedback
-- ARGV[1] the prefix of the run's channel keys ("gfc:{<run id>}:ch:"). Channel keys are named by
--         the index and built here, so they are read at the same instant; they carry the run's
--         hash tag, so in Redis Cluster they live in this script's slot.
-- Returns {meta, applied, results, scopes, tokens, barriers, dynamic, graph or false, frontier,
--          channel, feedback}: hashes as flat field/value lists, the applied set as a list, and the
--          channel as one {name, "v" or "l", ttl in ms (-1: none), value or items...} per live key.
local out = {}
out[1] = redis.call('HGETALL', KEYS[1])
out[2] = redis.call('SMEMBERS', KEYS[2])
for i = 3, 7 do out[i] = redis.call('HGETALL', KEYS[i]) end
out[8] = redis.call('GET', KEYS[8])
out[9] = redis.call('HGETALL', KEYS[9])
local channel = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[10])) do
  local key = ARGV[1] .. name
  local kind = redis.call('TYPE', key).ok
  if kind == 'string' then
    channel[#channel + 1] = {name, 'v', redis.call('PTTL', key), redis.call('GET', key)}
  elseif kind == 'list' then
    local entry = {name, 'l', redis.call('PTTL', key)}
    for _, item in ipairs(redis.call('LRANGE', key, 0, -1)) do entry[#entry + 1] = item end
    channel[#channel + 1] = entry
  end
end
out[10] = channel
out[11] = KEYS[11] and redis.call('HGETALL', KEYS[11]) or {}
return out
