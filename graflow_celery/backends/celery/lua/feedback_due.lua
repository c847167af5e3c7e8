-- A parked step's safety net: is it time to send it again? Either its request's deadline passed
-- without an answer (the request then times out in the task, which may go on with a default), or
-- its request was answered but the step has not run since (whoever answered could not send it, or
-- died before): see feedback_answer.lua.
--
-- KEYS[1] meta, KEYS[2] feedback, KEYS[3] fbwait (not used here), KEYS[4] frontier, KEYS[5] leases
-- ARGV[1] key
-- Returns {"ended"} (the run is over), {"gone"} (no such request), {"settled"} (timed out, or
-- answered and its step ran since or left the frontier), {"waits"} (waiting, with no deadline),
-- {"early", ms until the deadline}, {"busy"} (a delivery holds the step's lease: it runs now and
-- will time out or park again), {"due", the step's JSON or false if it left the frontier} (past the
-- deadline), or {"answered", the step's JSON} (answered, not yet run again).
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return {'ended'} end
local raw = redis.call('HGET', KEYS[2], ARGV[1] .. '|s')
if not raw then return {'gone'} end
local state = cjson.decode(raw)
local step = redis.call('HGET', KEYS[4], state.step)
if state.status == 'answered' then
  if not (state.resend and step) then return {'settled'} end
  if redis.call('HEXISTS', KEYS[5], state.step) == 1 then return {'busy'} end
  return {'answered', step}
end
if state.status ~= 'waiting' then return {'settled'} end
if not state.deadline then return {'waits'} end
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
if now < state.deadline then return {'early', state.deadline - now} end
if step and redis.call('HEXISTS', KEYS[5], state.step) == 1 then return {'busy'} end
return {'due', step}
