-- Release a lease whose step finished without its transition being applied or retried here (handed
-- off to another Celery task, dropped, or failed outside user code).
--
-- KEYS[1] leases  hash  step id -> JSON {owner, token, expires}
-- ARGV[1] step id, ARGV[2] the holder's token
-- Returns 1 if released, 0 if this token no longer held it (then the new holder keeps it).
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw or cjson.decode(raw).token ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
