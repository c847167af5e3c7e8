-- Take the lease of a step that is about to run: the frontier admitted its message, and this
-- delivery now holds the step until its transition is applied, it is retried or released. A lease
-- another delivery held is taken over (a duplicate delivery runs too: user functions run at least
-- once; the transition is still applied once). Expiry is Redis time, never a worker's clock.
--
-- KEYS[1] meta      hash   "status"
-- KEYS[2] frontier  hash   step id -> JSON step (only read: the step must still be on it)
-- KEYS[3] leases    hash   step id -> JSON {owner, token, expires (ms, Redis time)}
-- ARGV[1] step id, ARGV[2] owner ("<host>:<pid>"), ARGV[3] token (unique per take),
-- ARGV[4] lease in ms, ARGV[5] the run's TTL in seconds, ARGV[6] "1": only if no one holds it
--         (taken before admission, in the same round trip as the step's other reads)
-- Returns the lease's expiry in ms, 0 if the step is no longer on the frontier of a running run
-- (applied by another delivery meanwhile, or the run ended), or -1 if ARGV[6] is "1" and another
-- delivery holds a live lease: nothing is written then.
if redis.call('HGET', KEYS[1], 'status') ~= 'running' or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  return 0
end
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if ARGV[6] == '1' then
  local held = redis.call('HGET', KEYS[3], ARGV[1])
  if held and cjson.decode(held).expires > now_ms then return -1 end
end
local expires = now_ms + tonumber(ARGV[4])
redis.call('HSET', KEYS[3], ARGV[1], cjson.encode({owner = ARGV[2], token = ARGV[3], expires = expires}))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[5]))
return expires
