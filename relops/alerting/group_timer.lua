-- Start a receiver's group window unless one is running, in one round trip (grouping.py).
-- KEYS[1]  the group timer (set while a grouped flush is scheduled)
-- KEYS[2]  the recent-flush marker (set while the group is recent: a storm's tail waits less)
-- ARGV[1]  group_wait in milliseconds
-- ARGV[2]  group_interval in milliseconds
-- Returns the wait in milliseconds when this call started the window (the caller schedules the
-- flush after it), or -1 when a flush is already scheduled.
local group_wait = tonumber(ARGV[1])
local wait = group_wait
if redis.call('EXISTS', KEYS[2]) == 1 then
  wait = math.min(group_wait, tonumber(ARGV[2]))
end
if not redis.call('SET', KEYS[1], 1, 'NX', 'PX', math.max(1, wait)) then
  return -1
end
redis.call('SET', KEYS[2], 1, 'PX', math.max(1, wait + group_wait))
return wait
