-- A parked request's deadline wake-up: is it time to send its step again, so that the request
-- times out in the task (which may then go on with a default)?
--
-- KEYS[1] meta, KEYS[2] feedback, KEYS[3] fbwait (not used here), KEYS[4] frontier
-- ARGV[1] key
-- Returns {"ended"} (the run is over), {"gone"} (no such request), {"settled"} (answered or timed
-- out), {"early", ms until the deadline}, or {"due", the step's JSON or false if it left the frontier}.
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return {'ended'} end
local raw = redis.call('HGET', KEYS[2], ARGV[1] .. '|s')
if not raw then return {'gone'} end
local state = cjson.decode(raw)
if state.status ~= 'waiting' then return {'settled'} end
if not state.deadline then return {'settled'} end
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
if now < state.deadline then return {'early', state.deadline - now} end
return {'due', redis.call('HGET', KEYS[4], state.step)}
