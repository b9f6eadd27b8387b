-- Token bucket shared by every worker sending to one destination. Time comes from Redis, not
-- from each worker's clock, so skewed hosts cannot overdraw it.
-- KEYS[1]  the bucket hash (relops.redis_keys.rate_limit): fields tokens, ts, blocked_until (ms)
-- ARGV[1]  mode: "take" (take a token) or "block" (the destination said wait: 429 Retry-After)
-- ARGV[2]  take: tokens per second; block: milliseconds to wait
-- ARGV[3]  take: bucket size (burst)
-- Returns milliseconds to wait before trying again (0: a token was taken, or the block was set).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked_until') or '0')
if ARGV[1] == 'block' then
  local untill = now + tonumber(ARGV[2])
  if untill > blocked then
    redis.call('HSET', KEYS[1], 'blocked_until', untill)
  end
  redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[2]), 60000))
  return 0
end
if blocked > now then
  return blocked - now
end
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or ARGV[3])
local ts = tonumber(redis.call('HGET', KEYS[1], 'ts') or now)
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], 60000 + math.ceil(burst * 1000 / rate))
return wait
