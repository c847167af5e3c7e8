-- Answer a request for feedback: only a request still waiting, before its deadline, of a run that
-- goes on (a run kept in another process has no meta here: only its requests are). Exactly one of
-- several answers sent at once is taken; a refused one changes nothing. An answer to a request
-- whose step parked marks it "resend" until the step runs again and reads the answer (cleared by
-- feedback_ask.lua): whoever answered sends the step, and should that fail, a worker's deadline
-- sweep sends it (feedback_due.lua).
--
-- KEYS[1] meta      hash  "status" (absent: the run's state is kept elsewhere, in process)
-- KEYS[2] feedback  hash  "<key>", "<key>|s", "<key>|a" (see feedback_ask.lua)
-- KEYS[3] fbwait    hash  step id -> key of its request waiting for an answer
-- KEYS[4] frontier  hash  step id -> JSON step: a parked step is sent again from here
-- KEYS[5] leases (not used here)
-- ARGV[1] key, ARGV[2] answer JSON {value, by, reason}, ARGV[3] TTL in seconds ("": keep the one set),
-- ARGV[4] pub/sub channel announcing answers (a task blocked in another process listens)
-- Returns {"unknown"}, or {verdict, request JSON, state JSON, answer JSON or false, the parked
-- step's JSON or false}: verdict "ok" (taken now), or why not: "ended", "answered", "timed_out".
local key = ARGV[1]
local raw = redis.call('HGET', KEYS[2], key .. '|s')
if not raw then return {'unknown'} end
local request = redis.call('HGET', KEYS[2], key)
local status = redis.call('HGET', KEYS[1], 'status')
if status and status ~= 'running' then
  return {'ended', request, raw, redis.call('HGET', KEYS[2], key .. '|a'), false}
end
local state = cjson.decode(raw)
if state.status ~= 'waiting' then
  return {state.status, request, raw, redis.call('HGET', KEYS[2], key .. '|a'), false}
end
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
if state.deadline and now >= state.deadline then  -- times out when its step runs again
  return {'timed_out', request, raw, false, false}
end
local parked = false
if state.parks then parked = redis.call('HGET', KEYS[4], state.step) end
state.status = 'answered'
state.settled = now
if parked then state.resend = true end
local encoded = cjson.encode(state)
redis.call('HSET', KEYS[2], key .. '|s', encoded, key .. '|a', ARGV[2])
if redis.call('HGET', KEYS[3], state.step) == key then redis.call('HDEL', KEYS[3], state.step) end
redis.call('PUBLISH', ARGV[4], key)
if ARGV[3] ~= '' then redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3])) end
return {'ok', request, encoded, ARGV[2], parked}
