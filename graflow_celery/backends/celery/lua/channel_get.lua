-- Read channel values whatever their shape: a single value (string) or a list.
-- KEYS[1..n] channel keys
-- Returns, per key: {} if missing, {"v", value} for a single value, {"l", item, item, ...} for a list.
local out = {}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  if kind == 'string' then
    out[i] = {'v', redis.call('GET', key)}
  elseif kind == 'list' then
    local items = redis.call('LRANGE', key, 0, -1)
    table.insert(items, 1, 'l')
    out[i] = items
  else
    out[i] = {}
  end
end
return out
