-- Claim an expired lease found in the global index (LEASE_INDEX), so that exactly one live worker
-- re-sends the step: only a step still on the frontier of a running run, whose lease has expired.
-- The claimer holds the lease until the message it sends is taken; if nobody takes it (the message
-- was lost, or waits in a long queue), the next claim waits twice as long, up to ARGV[6].
--
-- KEYS[1] meta      hash   "status"
-- KEYS[2] frontier  hash   step id -> JSON step
-- KEYS[3] leases    hash   step id -> JSON {owner, token, expires, claims (claims in a row)}
-- ARGV[1] step id, ARGV[2] token of the index member that led here, ARGV[3] claimer ("<host>:<pid>"),
-- ARGV[4] the claim's token, ARGV[5] lease in ms, ARGV[6] the longest claim in ms
-- Returns one of:
--   {"gone"}                          no lease, the step left the frontier or the run ended (its
--                                     lease is deleted): the index member can go
--   {"live", expires, 1 or 0}         the lease is live; 1 if it is still the member's own lease
--   {"claimed", step JSON, expires, previous owner}   re-send this step
local raw = redis.call('HGET', KEYS[3], ARGV[1])
if not raw then return {'gone'} end
local entry = redis.call('HGET', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[1], 'status') ~= 'running' or not entry then
  redis.call('HDEL', KEYS[3], ARGV[1])
  return {'gone'}
end
local lease = cjson.decode(raw)
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if lease.expires > now_ms then
  return {'live', lease.expires, lease.token == ARGV[2] and 1 or 0}
end
local claims = (tonumber(lease.claims) or 0) + 1
local span = math.min(tonumber(ARGV[5]) * 2 ^ (claims - 1), math.max(tonumber(ARGV[6]), tonumber(ARGV[5])))
local expires = now_ms + math.floor(span)
redis.call('HSET', KEYS[3], ARGV[1],
           cjson.encode({owner = ARGV[3], token = ARGV[4], expires = expires, claims = claims}))
return {'claimed', entry, expires, lease.owner}
