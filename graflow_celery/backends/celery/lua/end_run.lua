-- End a run that is still running (cancel from outside, or a failure outside any task) - or, with
-- ARGV[4] = "pending", a run that was stored and never started (discarded).
-- KEYS[1] meta hash
-- ARGV[1] new status ("cancelled" | "failed" | "discarded"), ARGV[2] error JSON, ARGV[3] pub/sub
-- channel, ARGV[4] the status the run must have (default "running")
-- Returns 1 if the run had that status and is now ended, 0 otherwise.
if redis.call('HGET', KEYS[1], 'status') ~= (ARGV[4] or 'running') then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'error', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 1
