-- Start a run with its first step - only a run stored and not started: a discarded run never
-- starts (its submitting transaction rolled back), and a run starts once.
--
-- KEYS[1] meta      hash  "status" ("pending" -> "running"), "seq", the first node's run count
-- KEYS[2] scopes    hash  "|n": the run's steps in flight
-- KEYS[3] frontier  hash  step id -> JSON step
-- ARGV[1] the first step's id, ARGV[2] its JSON, ARGV[3] the meta field counting its node's runs,
-- ARGV[4] the run's TTL in seconds
-- Returns the status the run had: "pending" (it runs now), or another - "missing" if there is no
-- such run - and nothing changed.
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'pending' then return status or 'missing' end
redis.call('HSET', KEYS[1], 'status', 'running', 'seq', ARGV[1], ARGV[3], 1)
redis.call('HSET', KEYS[2], '|n', 1)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[4])
return status
