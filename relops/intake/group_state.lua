-- One group of intake requests, in one round trip: each report key's token bucket, then the run
-- pairing of the group's cron pings that carry no run id, in arrival order. Time comes from Redis,
-- so skewed hosts cannot overdraw a bucket.
-- KEYS     the quota hash of each report key in the group (relops.redis_keys.intake_quota)
-- ARGV[1]  the open-run TTL (s)
-- ARGV[2]  per report key, in KEYS order: [tokens per second, burst, requests in this group] (JSON)
-- ARGV[3]  per ping, in arrival order: [index of its key (1-based), its rank among that key's
--          requests (1 = first), the run id it starts ("" for an end), its job's open-run key
--          (relops.redis_keys.open_run: "<run id> <start ms>")] (JSON). One JSON argument instead
--          of four per ping: packing hundreds of arguments cost more than the script itself. The
--          open-run keys are therefore not declared in KEYS, which standalone and Sentinel Redis
--          allow (Redis Cluster would not).
-- Returns {granted_1, wait_ms_1, ..., granted_K, wait_ms_K, reply_1, ...}: per ping "" when its key
-- ran out of tokens or nothing was open, "ok" for a start remembered, else "<run id> <ms since its
-- start>" of the open run it ended.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local quotas = cjson.decode(ARGV[2])
local pings = cjson.decode(ARGV[3])
local out = {}
local granted = {}
for i, quota in ipairs(quotas) do
  local rate = tonumber(quota[1])
  local burst = tonumber(quota[2])
  local wanted = tonumber(quota[3])
  local tokens = tonumber(redis.call('HGET', KEYS[i], 'tokens') or burst)
  local ts = tonumber(redis.call('HGET', KEYS[i], 'ts') or now)
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
  local take = math.min(wanted, math.floor(tokens))
  tokens = tokens - take
  redis.call('HSET', KEYS[i], 'tokens', tostring(tokens), 'ts', now)
  redis.call('PEXPIRE', KEYS[i], 60000 + math.ceil(burst * 1000 / rate))
  granted[i] = take
  out[#out + 1] = take
  out[#out + 1] = math.ceil((1 - tokens) * 1000 / rate)
end
for _, ping in ipairs(pings) do
  local key_index, rank, starts, open_key = ping[1], ping[2], ping[3], ping[4]
  if rank > granted[key_index] then
    out[#out + 1] = ''
  elseif starts ~= '' then
    redis.call('SET', open_key, starts .. ' ' .. now, 'EX', ttl)
    out[#out + 1] = 'ok'
  else
    local open = redis.call('GET', open_key)
    if open then
      redis.call('DEL', open_key)
      local space = string.find(open, ' ', 1, true)
      if space then
        local started = tonumber(string.sub(open, space + 1)) or now
        out[#out + 1] = string.sub(open, 1, space - 1) .. ' ' .. math.max(0, now - started)
      else
        out[#out + 1] = open .. ' '
      end
    else
      out[#out + 1] = ''
    end
  end
end
return out
