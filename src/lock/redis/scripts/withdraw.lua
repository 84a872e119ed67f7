--[[ withdraw: a waiting call gives up (aborted, timed out, out of retries):
  its ticket leaves the queue, and if it was the one whose turn it was while
  the name is vacant (or only reserved), the next live ticket is told (in its
  inbox, see lib/queue.lua).
  KEYS[1]  lease key      {ns:name}:lease
  Also used, not declared: the FIFO queue keys (see lib/queue.lua)
  ARGV[1]  ticket
  ARGV[2]  notification channel
  ARGV[3]  publish command: 'PUBLISH', or 'SPUBLISH' on a Redis Cluster
  Returns
    1    the ticket was queued and is gone, or the lease a release granted it
         was freed (and the next ticket told)
    0    it was not queued (never, already granted, or expired) ]]
--#include lib/queue.lua
local lease = redis.pcall('HMGET', KEYS[1], 'token', 'ticket')
if type(lease) == 'table' and lease[2] == ARGV[1] then
  -- A release granted this ticket the lease, which its caller will not use: free it.
  redis.call('DEL', KEYS[1])
  local nxt, life = live_head()
  local named = nxt and (':' .. life .. ':' .. nxt) or ''
  redis.pcall(ARGV[3], ARGV[2], 'released:-1' .. named)
  local e = entry_of(nxt)
  tell(ARGV[3], e and e[5], nil, 'released:-1' .. named)
  return 1
end
local range = redis.pcall('ZRANGE', QUEUE, 0, 0)
local was_first = type(range) == 'table' and range[1] == ARGV[1]
redis.pcall('ZREM', TICKETS, ARGV[1])
redis.pcall('HDEL', ENTRIES, ARGV[1])
if redis.pcall('ZREM', QUEUE, ARGV[1]) ~= 1 then
  return 0
end
local holder = type(lease) == 'table' and lease[1]
if was_first and (holder == false or holder == '') then
  local nxt, life = live_head()
  local e = entry_of(nxt)
  if e then tell(ARGV[3], e[5], nil, 'released:-1:' .. life .. ':' .. nxt) end
end
return 1
