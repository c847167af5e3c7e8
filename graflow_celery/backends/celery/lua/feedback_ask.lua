-- Make a request for feedback, or find the one an earlier run of the step made (the first one
-- stays: a step that runs again from its start finds its answer). A waiting request past its
-- deadline times out now; one still waiting marks its step as waiting for an answer, and parks as
-- the step asking now does (a request made in process, where it blocked, parks once its run is
-- resumed on Celery: answering it must send the step, and its deadline is watched). An answered
-- request found here has reached its step, which no longer needs sending ("resend" goes: see
-- feedback_answer.lua). A settled request (answered or timed out) is marked "read" by the first call
-- that finds it so: that call, and no later one, tells the task's handler of the outcome.
--
-- KEYS[1] meta (not used here; the feedback scripts share one KEYS order)
-- KEYS[2] feedback  hash  "<key>" request JSON (stored as given), "<key>|s" state JSON
--                         {status, step, created, deadline?, settled?, parks, resend?, read?},
--                         "<key>|a" answer JSON
-- KEYS[3] fbwait    hash  step id -> key of its request waiting for an answer
-- KEYS[4] frontier, KEYS[5] leases (not used here)
-- ARGV[1] key "<step id>:<n>", ARGV[2] request JSON, ARGV[3] step id, ARGV[4] timeout in ms or ""
-- (none), ARGV[5] "1": the step parks while it waits, ARGV[6] the run's TTL in seconds
-- Returns {request JSON, state JSON, answer JSON or false, Redis time in ms, 1 if this call made the
-- request else 0, 1 if this call is the first to find it settled else 0}.
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
local key = ARGV[1]
local raw = redis.call('HGET', KEYS[2], key .. '|s')
local state
local made = 0
if raw then
  state = cjson.decode(raw)
  if state.status == 'waiting' then state.parks = ARGV[5] == '1' end
  state.resend = nil
else
  state = {status = 'waiting', step = ARGV[3], created = now, parks = ARGV[5] == '1'}
  if ARGV[4] ~= '' then state.deadline = now + tonumber(ARGV[4]) end
  redis.call('HSET', KEYS[2], key, ARGV[2])
  made = 1
end
if state.status == 'waiting' then
  if state.deadline and now >= state.deadline then
    state.status = 'timed_out'
    state.settled = now
    if redis.call('HGET', KEYS[3], state.step) == key then redis.call('HDEL', KEYS[3], state.step) end
  else
    redis.call('HSET', KEYS[3], state.step, key)
  end
end
local first_read = 0
if state.status ~= 'waiting' and not state.read then
  state.read = true
  first_read = 1
end
local encoded = cjson.encode(state)
redis.call('HSET', KEYS[2], key .. '|s', encoded)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[6]))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[6]))
return {redis.call('HGET', KEYS[2], key), encoded, redis.call('HGET', KEYS[2], key .. '|a'), now, made,
        first_read}
