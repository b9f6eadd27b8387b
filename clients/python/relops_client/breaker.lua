-- A circuit breaker shared by every process: breaker_machine.py (beside this file) is its specification
-- (acquire and report there mirror the two operations here, line for line).
-- KEYS[1]  state hash: state, generation, failures, open_until, probe_successes, last_failure,
--          last_transition
-- KEYS[2]  probe leases (sorted set: lease id -> expiry ms)
-- KEYS[3]  rate buckets (hash: "<bucket>:ok" / "<bucket>:fail" -> count)
-- ARGV[1]  "acquire" or "report"
-- ARGV[2]  now in ms, or "" for Redis' own clock (tests inject time; workers never do)
-- ARGV[3..9] failure_threshold, failure_rate ("" for count mode), window_ms, min_calls, open_ms,
--          probes, lease_ms
-- acquire: ARGV[10] lease id
-- report:  ARGV[10] generation the calls were admitted under, ARGV[11] successes,
--          ARGV[12] failures, ARGV[13] lease id ("" unless a probe)
-- Returns {decision ("allow"|"probe"|"reject"|""), state, generation, failures, open_until, now,
--          transition_from or "", transition_to or ""}
local now
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[2])
end
local threshold, rate = tonumber(ARGV[3]), tonumber(ARGV[4])
local window_ms, min_calls = tonumber(ARGV[5]), tonumber(ARGV[6])
local open_ms, probes, lease_ms = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])

local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local generation = tonumber(redis.call('HGET', KEYS[1], 'generation') or '0')
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
local probe_successes = tonumber(redis.call('HGET', KEYS[1], 'probe_successes') or '0')
local from, to = '', ''

local function transition(target)
  from, to = state, target
  state = target
  generation = generation + 1
  failures, probe_successes = 0, 0
  open_until = 0
  if target == 'open' then open_until = now + open_ms end
  redis.call('HSET', KEYS[1], 'state', state, 'generation', generation, 'failures', 0,
             'probe_successes', 0, 'open_until', open_until, 'last_transition', now)
  redis.call('DEL', KEYS[2], KEYS[3])
end

local function result(decision)
  return {decision, state, generation, failures, open_until, now, from, to}
end

if ARGV[1] == 'acquire' then
  if state == 'open' then
    if now < open_until then return result('reject') end
    transition('half_open')
  end
  if state == 'closed' then return result('allow') end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) + probe_successes >= probes then return result('reject') end
  redis.call('ZADD', KEYS[2], now + lease_ms, ARGV[10])
  return result('probe')
end

-- report
if tonumber(ARGV[10]) ~= generation then return result('') end
local successes, failed, lease = tonumber(ARGV[11]), tonumber(ARGV[12]), ARGV[13]
if failed > 0 then redis.call('HSET', KEYS[1], 'last_failure', now) end
if state == 'half_open' then
  if lease == '' or not redis.call('ZSCORE', KEYS[2], lease) then return result('') end
  redis.call('ZREM', KEYS[2], lease)
  if failed > 0 then
    transition('open')
    return result('')
  end
  probe_successes = probe_successes + 1
  redis.call('HSET', KEYS[1], 'probe_successes', probe_successes)
  if probe_successes >= probes then transition('closed') end
  return result('')
end
if state == 'open' then return result('') end
if ARGV[4] == '' then
  if failed > 0 then failures = failures + failed else failures = 0 end
  redis.call('HSET', KEYS[1], 'failures', failures)
  if failures >= threshold then transition('open') end
  return result('')
end
local bucket_ms = math.max(1, math.floor(window_ms / 10))
local bucket = math.floor(now / bucket_ms)
local oldest = bucket - 9
local calls, fails = 0, 0
local fields = redis.call('HGETALL', KEYS[3])
for i = 1, #fields, 2 do
  local index, kind = string.match(fields[i], '^(%-?%d+):(%a+)$')
  if tonumber(index) < oldest then
    redis.call('HDEL', KEYS[3], fields[i])
  elseif tonumber(index) ~= bucket then
    calls = calls + tonumber(fields[i + 1])
    if kind == 'fail' then fails = fails + tonumber(fields[i + 1]) end
  end
end
local ok_now = redis.call('HINCRBY', KEYS[3], bucket .. ':ok', successes)
local fail_now = redis.call('HINCRBY', KEYS[3], bucket .. ':fail', failed)
calls = calls + ok_now + fail_now
fails = fails + fail_now
if failed > 0 and calls >= min_calls and calls > 0 and fails / calls >= rate then transition('open') end
return result('')
