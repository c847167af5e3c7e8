-- Watch step messages just sent (``sent_index.py``): each is due to be looked at again after the
-- grace period, plus its own countdown (a retry's), by Redis time. A step sent again is scored
-- afresh.
--
-- KEYS[1] sent index  sorted set  "<run id>|<step id>|<attempt>" -> when to look (ms, Redis time)
-- ARGV[1] grace in ms, then pairs: ARGV[2k] member, ARGV[2k+1] its countdown in ms
-- Returns Redis time in ms.
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local grace = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], now_ms + grace + tonumber(ARGV[i + 1]), ARGV[i])
end
return now_ms
