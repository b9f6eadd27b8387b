-- Start a receiver's group window unless one is running, in one round trip (grouping.py).
-- KEYS[1]  the group timer (set while a grouped flush is scheduled; its value says which kind:
--          "opening", a group waiting out its whole group_wait, or "tail", a shorter wait)
-- KEYS[2]  the recent-flush marker (set while the group is recent: a storm's tail waits less)
-- ARGV[1]  this alert's wait when it opens a group, in milliseconds (a CRITICAL's is shorter)
-- ARGV[2]  group_interval in milliseconds
-- ARGV[3]  group_wait in milliseconds
-- Returns the wait in milliseconds when this call started a window, or brought an opening
-- group's flush forward (the caller schedules a flush after it; the later one then finds nothing
-- pending), or -1 when a flush is already scheduled at least as soon.
local own = tonumber(ARGV[1])
local group_wait = tonumber(ARGV[3])
local wait
local left = redis.call('PTTL', KEYS[1])
if left > 0 then
  -- A CRITICAL does not wait behind a group of warnings; a storm's tail already flushes soon.
  if own >= left or redis.call('GET', KEYS[1]) ~= 'opening' then
    return -1
  end
  wait = own
  redis.call('SET', KEYS[1], 'tail', 'PX', math.max(1, wait))
else
  local kind = 'tail'
  if redis.call('EXISTS', KEYS[2]) == 1 then
    -- A storm's tail: grouped every group_interval, even behind a CRITICAL that went out at once.
    wait = math.min(group_wait, tonumber(ARGV[2]))
  else
    wait = own
    if own >= group_wait then
      kind = 'opening'
    end
  end
  redis.call('SET', KEYS[1], kind, 'PX', math.max(1, wait))
end
redis.call('SET', KEYS[2], 1, 'PX', math.max(1, wait + group_wait))
return wait
