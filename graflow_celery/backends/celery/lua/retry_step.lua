-- Record a failed step's next attempt: on the frontier, and in the step's retry outbox until the
-- retry message is known to be sent. Only the delivery that holds the frontier's attempt wins. The
-- step's lease goes: the retry message is due later, and whoever runs it takes a new one.
--
-- KEYS[1] frontier  hash  step id -> JSON step
-- KEYS[2] outbox    hash  "<id>|retry" -> JSON {step, eta}
-- KEYS[3] leases    hash  step id -> lease of the delivery running it
-- ARGV[1] step id, ARGV[2] the attempt that failed, ARGV[3] when the retry is due (epoch seconds)
-- Returns the next attempt's step as JSON, or false if the frontier no longer holds that attempt.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local entry = cjson.decode(raw)
if entry.attempt ~= tonumber(ARGV[2]) then return false end
entry.attempt = entry.attempt + 1
local encoded = cjson.encode(entry)
redis.call('HSET', KEYS[1], ARGV[1], encoded)
redis.call('HSET', KEYS[2], ARGV[1] .. '|retry', cjson.encode({step = entry, eta = tonumber(ARGV[3])}))
redis.call('HDEL', KEYS[3], ARGV[1])
return encoded
