-- End a run that is still running (cancel from outside, or a failure outside any task).
-- KEYS[1] meta hash
-- ARGV[1] new status ("cancelled" | "failed"), ARGV[2] error JSON, ARGV[3] pub/sub channel
-- Returns 1 if the run was running and is now ended, 0 if it had already ended.
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'error', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 1
