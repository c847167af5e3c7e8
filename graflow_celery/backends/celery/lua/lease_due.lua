-- The index members whose lease has expired by Redis time, oldest first (the sweep's first read).
--
-- KEYS[1] lease index  sorted set  "<run id>|<step id>|<token>" -> expiry in ms (Redis time)
-- ARGV[1] at most this many members
-- Returns {now in ms, member, member, ...}.
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local due = redis.call('ZRANGE', KEYS[1], '-inf', now_ms, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[1]))
table.insert(due, 1, now_ms)
return due
