--[[ withdraw: a waiting call gives up (aborted, timed out, out of retries):
  its ticket leaves the queue, and if it was the one whose turn it was while
  the name is vacant (or only reserved), the next live ticket is told.
  KEYS[1]  lease key      {ns:name}:lease
  KEYS[2]  waiter queue   {ns:name}:queue   (see acquire.lua)
  KEYS[3]  ticket expiry  {ns:name}:tickets
  ARGV[1]  ticket
  ARGV[2]  notification channel
  ARGV[3]  publish command: 'PUBLISH', or 'SPUBLISH' on a Redis Cluster
  Returns
    1    the ticket was queued and is gone
    0    it was not queued (never, already granted, or expired) ]]
local first = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 0
end
redis.call('HDEL', KEYS[3], ARGV[1])
local holder = redis.pcall('HGET', KEYS[1], 'token')
if first == ARGV[1] and (holder == false or holder == '') then
  local t = redis.call('TIME')
  local clock_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for _ = 1, 64 do
    local nxt = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
    if not nxt then break end
    local expiry = tonumber(redis.call('HGET', KEYS[3], nxt))
    if expiry and expiry > clock_ms then
      redis.pcall(ARGV[3], ARGV[2], 'released:-1:' .. (expiry - clock_ms) .. ':' .. nxt)
      break
    end
    redis.call('ZREM', KEYS[2], nxt)
    redis.call('HDEL', KEYS[3], nxt)
  end
end
return 1
