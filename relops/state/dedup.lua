-- Notification dedup for one dedup key on several channels, atomic across every process and host.
-- KEYS[i]  the dedup hash of channel i (relops.redis_keys.dedup): fields rank, suppressed, owner
-- ARGV[1]  severity rank of this event (warning 1, critical 2)
-- ARGV[2]  window length in milliseconds
-- ARGV[3]  id of the event asking (a retried or redelivered event asks again with the same id)
-- Returns {deliver_1 (1|0), suppressed_1, deliver_2, suppressed_2, ...}, one pair per key.
-- The first event of a window is delivered; later ones are counted and suppressed, unless they
-- escalate (a higher rank than anything delivered in the window), which is delivered and restarts
-- the window at the new rank. The event that owns a window is let through again when it asks
-- again: its first attempt may have rolled back before its notification was stored.
local result = {}
for i, key in ipairs(KEYS) do
  local current = redis.call('HGET', key, 'rank')
  if not current then
    redis.call('HSET', key, 'rank', ARGV[1], 'suppressed', 0, 'owner', ARGV[3])
    redis.call('PEXPIRE', key, ARGV[2])
    result[#result + 1] = 1
    result[#result + 1] = 0
  elseif ARGV[3] ~= '' and redis.call('HGET', key, 'owner') == ARGV[3] then
    result[#result + 1] = 1
    result[#result + 1] = tonumber(redis.call('HGET', key, 'suppressed'))
  elseif tonumber(ARGV[1]) > tonumber(current) then
    redis.call('HSET', key, 'rank', ARGV[1], 'owner', ARGV[3])
    redis.call('PEXPIRE', key, ARGV[2])
    result[#result + 1] = 1
    result[#result + 1] = tonumber(redis.call('HGET', key, 'suppressed'))
  else
    result[#result + 1] = 0
    result[#result + 1] = redis.call('HINCRBY', key, 'suppressed', 1)
  end
end
return result
