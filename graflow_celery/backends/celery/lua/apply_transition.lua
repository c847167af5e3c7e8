-- Apply one step's transition, atomically and at most once per step id.
-- The engine decided everything; this script only counts, as the transition says.
--
-- KEYS[1] meta      hash   status, error, seq, applied_n, last_result, failed_step, and
--                          "runs|<node>": the node's steps made ready to run so far (cycle_count)
-- KEYS[2] applied   set    step ids already applied
-- KEYS[3] outbox    hash   step id -> JSON list of ready steps not yet acknowledged as sent
--                          ("<id>|retry": the step's next attempt, until sent)
-- KEYS[4] results   hash   node id -> serialized result
-- KEYS[5] scopes    hash   "<scope>|n" in-flight count, "<scope>|last" result, "<scope>|err",
--                          "<scope>|errstep" the scope's first failed step
-- KEYS[6] tokens    hash   "<len(node)>:<node>|<src>" -> tokens on that join edge, oldest first:
--                          "1" real, "0" skip (the length makes node ids with "|" unambiguous)
-- KEYS[7] barriers  hash   "<group step>|n|done|node|scope", "<group step>|ok|<i>", "|err|<i>",
--                          "|res|<i>", "|errstep|<i>"
-- KEYS[8] dynamic   hash   node id -> spec of a node added at run time
-- KEYS[9] graph, KEYS[10] channel index: only kept alive (their TTL is refreshed with the rest)
-- KEYS[11] frontier hash   step id -> JSON of a step made ready and not yet applied
-- KEYS[12] handoffs hash   step id -> token a hand-off completion must carry
-- KEYS[13] leases   hash   step id -> lease of the delivery running it (deleted: the step is done)
-- KEYS[14] feedback, KEYS[15] feedback waiting: only kept alive
-- ARGV[1] transition JSON: {step, kind, run_end, error, branch_error, enqueue, deliver, launch, new_nodes}
-- ARGV[2] serialized result (used when kind == "completed")
-- ARGV[3] TTL in seconds: every key above lives that long after the run's last transition
-- ARGV[4] pub/sub channel announcing the end of the run
-- Returns {1 if applied now else 0, JSON list of ready steps, the status the run ended with in
-- this application or ""}. The ready steps are the outbox of an earlier
-- application, or nothing if the step is not on the frontier or the run is no longer running (a
-- straggler after the run ended changes nothing and is not marked applied, so a resumed run can
-- still run it).

local t = cjson.decode(ARGV[1])
local step = t.step
local meta, applied, outbox, results, scopes, tokens, barriers, dynamic, frontier, handoffs =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[11], KEYS[12]
local leases = KEYS[13]

if redis.call('SISMEMBER', applied, step.id) == 1 then
  return {0, redis.call('HGET', outbox, step.id) or '[]'}
end
local status = redis.call('HGET', meta, 'status')
if status ~= 'running' or redis.call('HEXISTS', frontier, step.id) == 0 then
  return {0, '[]'}
end
redis.call('SADD', applied, step.id)
redis.call('HINCRBY', meta, 'applied_n', 1)
redis.call('HDEL', frontier, step.id)
redis.call('HDEL', handoffs, step.id)
redis.call('HDEL', leases, step.id)
redis.call('HDEL', outbox, step.id .. '|retry')

local scope = step.scope
if t.kind == 'completed' then
  redis.call('HSET', results, step.node, ARGV[2])
  redis.call('HSET', meta, 'last_result', ARGV[2])
  redis.call('HSET', scopes, scope .. '|last', ARGV[2])
elseif t.kind == 'failed' and t.branch_error ~= cjson.null and t.branch_error ~= nil then
  if redis.call('HSETNX', scopes, scope .. '|err', t.branch_error) == 1 then
    redis.call('HSET', scopes, scope .. '|errstep', cjson.encode(step))
  end
end
for node_id, spec in pairs(t.new_nodes or {}) do
  redis.call('HSETNX', dynamic, node_id, spec)
end

local function finish(new_status, error_json)
  redis.call('HSET', meta, 'status', new_status)
  if error_json then redis.call('HSET', meta, 'error', error_json) end
  redis.call('PUBLISH', ARGV[4], new_status)
  status = new_status
end

if t.run_end ~= cjson.null and t.run_end ~= nil and status == 'running' then
  if t.run_end == 'terminated' then
    finish('completed', nil)
  else
    finish(t.run_end, t.error)
    if t.run_end == 'failed' then redis.call('HSET', meta, 'failed_step', cjson.encode(step)) end
  end
end

local ready = {}
local function alloc(node, in_scope, phase, data, barrier)
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  phase = phase or 'run'
  local cycle = 0  -- a run of the node: how many came before it
  if phase == 'run' then cycle = redis.call('HINCRBY', meta, 'runs|' .. node, 1) - 1 end
  local s = {id = tostring(seq), node = node, scope = in_scope, phase = phase,
             cycle = cycle, data = data or cjson.null, attempt = 0, barrier = barrier or ''}
  ready[#ready + 1] = s
  redis.call('HSET', frontier, s.id, cjson.encode(s))
end

if status == 'running' then
  for _, n in ipairs(t.enqueue) do
    alloc(n.node, scope, n.phase, n.data, '')
  end
  for _, d in ipairs(t.deliver) do
    local edge = string.len(d.node) .. ':' .. d.node .. '|'
    redis.call('HSET', tokens, edge .. d.src, (redis.call('HGET', tokens, edge .. d.src) or '') ..
               (d.skip and '0' or '1'))
    local queued = {}
    local all = true
    for i, src in ipairs(d.required) do
      queued[i] = redis.call('HGET', tokens, edge .. src) or ''
      if queued[i] == '' then all = false break end
    end
    if all then  -- take the oldest token of every edge: run if all were real, else skip
      local real = true
      for i, src in ipairs(d.required) do
        if string.sub(queued[i], 1, 1) == '0' then real = false end
        redis.call('HSET', tokens, edge .. src, string.sub(queued[i], 2))
      end
      alloc(d.node, scope, real and 'run' or 'skip')
    end
  end
  local launch = t.launch
  local own = 1
  if launch ~= cjson.null and launch ~= nil then own = 0 end
  local left = redis.call('HINCRBY', scopes, scope .. '|n', #ready - own)
  if own == 0 then
    local g = step.id
    redis.call('HSET', barriers, g .. '|n', #launch, g .. '|done', 0, g .. '|node', step.node,
               g .. '|scope', scope)
    for i, entry in ipairs(launch) do
      local branch = g .. '/' .. (i - 1)
      redis.call('HSET', scopes, branch .. '|n', 1)
      alloc(entry, branch)
    end
  end
  if left == 0 then
    if scope == '' then
      finish('completed', nil)
    else
      local g, index = string.match(scope, '^(.*)/(%d+)$')
      local err = redis.call('HGET', scopes, scope .. '|err')
      local last = redis.call('HGET', scopes, scope .. '|last')
      redis.call('HSET', barriers, g .. '|ok|' .. index, err and '0' or '1')
      if err then
        redis.call('HSET', barriers, g .. '|err|' .. index, err,
                   g .. '|errstep|' .. index, redis.call('HGET', scopes, scope .. '|errstep'))
      end
      if last then redis.call('HSET', barriers, g .. '|res|' .. index, last) end
      redis.call('HDEL', scopes, scope .. '|n', scope .. '|err', scope .. '|last', scope .. '|errstep')
      local done = redis.call('HINCRBY', barriers, g .. '|done', 1)
      if done == tonumber(redis.call('HGET', barriers, g .. '|n')) then
        alloc(redis.call('HGET', barriers, g .. '|node'), redis.call('HGET', barriers, g .. '|scope'),
              'judge', nil, g)
      end
    end
  end
end

local encoded = '[]'
if #ready > 0 then  -- nothing ready: no outbox entry, and the engine sends no acknowledgement
  encoded = cjson.encode(ready)
  redis.call('HSET', outbox, step.id, encoded)
end
local ttl = tonumber(ARGV[3])
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end
return {1, encoded, status ~= 'running' and status or ''}
