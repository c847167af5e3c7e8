-- Claim a step whose message was sent and has not started within the grace period (a member of
-- the global sent index past its score), so that exactly one live worker sends it again: only a
-- step still on the frontier of a running run, at the member's attempt, that no delivery holds
-- (a lease: that step started, and the lease sweep watches it), that waits for no person (parked:
-- the feedback code sends it) and was not handed off to a ``from_celery`` task. Each claim looks
-- again twice as long later (grace, 2x, 4x, ... up to ARGV[4]), so that a step waiting behind a
-- long queue gets few duplicates.
--
-- KEYS[1] meta      hash  "status"
-- KEYS[2] frontier  hash  step id -> JSON step
-- KEYS[3] leases    hash  step id -> lease of the delivery running it
-- KEYS[4] fbwait    hash  step id -> key of its request waiting for an answer (parked)
-- KEYS[5] handoffs  hash  step id -> token of its hand-off
-- KEYS[6] resent    hash  step id -> JSON {attempt, n (claims so far), due (ms, Redis time)}
-- ARGV[1] step id, ARGV[2] the member's attempt, ARGV[3] grace in ms, ARGV[4] longest wait in ms,
-- ARGV[5] the run's TTL in seconds
-- Returns {"gone"} (the member can go), {"early", due} (claimed already: look again then), or
-- {"claimed", step JSON, due, n}: send the step again, and look again at ``due``.
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return {'gone'} end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return {'gone'} end
local step = cjson.decode(raw)
if step.attempt ~= tonumber(ARGV[2]) then return {'gone'} end
for i = 3, 5 do
  if redis.call('HEXISTS', KEYS[i], ARGV[1]) == 1 then return {'gone'} end
end
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local n = 0
local previous = redis.call('HGET', KEYS[6], ARGV[1])
if previous then
  local entry = cjson.decode(previous)
  if entry.attempt == step.attempt then
    if entry.due > now_ms then return {'early', entry.due} end
    n = entry.n
  end
end
n = n + 1
local grace = tonumber(ARGV[3])
local due = now_ms + math.floor(math.min(grace * 2 ^ n, math.max(tonumber(ARGV[4]), grace)))
redis.call('HSET', KEYS[6], ARGV[1], cjson.encode({attempt = step.attempt, n = n, due = due}))
redis.call('EXPIRE', KEYS[6], tonumber(ARGV[5]))
return {'claimed', raw, due, n}
