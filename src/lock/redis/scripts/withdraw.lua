--[[ withdraw: a waiting call gives up (aborted, timed out, out of retries):
  its ticket leaves the queue, and if it was the one whose turn it was while
  the name is vacant (or only reserved), the next live ticket is told.
  KEYS[1]  lease key      {ns:name}:lease
  Also used, not declared: {ns:name}:queue and {ns:name}:tickets, the FIFO
  queue (see acquire.lua for its layout and why it is not declared)
  ARGV[1]  ticket
  ARGV[2]  notification channel
  ARGV[3]  publish command: 'PUBLISH', or 'SPUBLISH' on a Redis Cluster
  Returns
    1    the ticket was queued and is gone
    0    it was not queued (never, already granted, or expired) ]]
local QUEUE = string.sub(KEYS[1], 1, -6) .. 'queue'
local TICKETS = string.sub(KEYS[1], 1, -6) .. 'tickets'
-- The oldest live ticket and its remaining life in ms, dropping expired ones met
-- at the head (at most 64 per call); nil when none, or when this node cannot
-- serve the queue keys (see acquire.lua).
local function live_head()
  local t = redis.call('TIME')
  local clock_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for _ = 1, 64 do
    local range = redis.pcall('ZRANGE', QUEUE, 0, 0)
    local first = type(range) == 'table' and range[1]
    if not first then return nil end
    local expiry = tonumber(redis.pcall('HGET', TICKETS, first))
    if expiry and expiry > clock_ms then return first, expiry - clock_ms end
    redis.pcall('ZREM', QUEUE, first)
    redis.pcall('HDEL', TICKETS, first)
  end
  return nil
end
local range = redis.pcall('ZRANGE', QUEUE, 0, 0)
local was_first = type(range) == 'table' and range[1] == ARGV[1]
redis.pcall('HDEL', TICKETS, ARGV[1])
if redis.pcall('ZREM', QUEUE, ARGV[1]) ~= 1 then
  return 0
end
local holder = redis.pcall('HGET', KEYS[1], 'token')
if was_first and (holder == false or holder == '') then
  local nxt, life = live_head()
  if nxt then redis.pcall(ARGV[3], ARGV[2], 'released:-1:' .. life .. ':' .. nxt) end
end
return 1
