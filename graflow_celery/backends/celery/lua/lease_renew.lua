-- Renew a lease while its step's body runs (the holder's renewer, every lease/3).
--
-- KEYS[1] leases  hash  step id -> JSON {owner, token, expires}
-- ARGV[1] step id, ARGV[2] the holder's token, ARGV[3] lease in ms
-- Returns the new expiry in ms (Redis time), or 0 if this token no longer holds the lease: the step
-- was applied or retried, or another delivery took it over, or a live worker claimed it after it
-- expired. An expired lease nobody claimed yet is renewed: its holder is alive after all.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local lease = cjson.decode(raw)
if lease.token ~= ARGV[2] then return 0 end
local now = redis.call('TIME')
lease.expires = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(lease))
return lease.expires
