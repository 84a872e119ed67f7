-- FIFO queue of waiting tickets (included by acquire, release and withdraw).
-- Keys, named from KEYS[1] (same hash tag, same slot) and not declared:
--   {ns:name}:queue    sorted set  ticket -> arrival (server us): the order
--   {ns:name}:tickets  sorted set  ticket -> expiry (server ms): the liveness
--   {ns:name}:entries  hash        ticket -> cmsgpack {token, ttl, identity, data,
--                      inbox, direct} of the ticket's latest attempt (direct:
--                      '0' if it must not be granted without WAIT): what a release
--                      needs to grant it the lease directly (release.lua), and
--                      the pub/sub channel of the waiter's store, where its
--                      turn is announced (only it and the next ticket are told)
-- Declared, they would get every script refused (TRYAGAIN) while a Cluster
-- slot migrates, as they usually do not exist; undeclared, their commands are
-- pcall'ed, and a node that cannot serve them acts as if nobody queued:
-- fairness pauses, safety never rests on the queue.
local BASE = string.sub(KEYS[1], 1, -6)
local QUEUE, TICKETS, ENTRIES = BASE .. 'queue', BASE .. 'tickets', BASE .. 'entries'
local clock_us, clock_ms
local function now()
  if not clock_us then
    local t = redis.call('TIME')
    clock_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
    clock_ms = math.floor(clock_us / 1000)
  end
end
local function queued()
  return redis.pcall('EXISTS', QUEUE) == 1
end
-- Drops `list` of tickets from the queue.
local function drop(list)
  if #list > 0 then
    redis.pcall('ZREM', QUEUE, unpack(list))
    redis.pcall('ZREM', TICKETS, unpack(list))
    redis.pcall('HDEL', ENTRIES, unpack(list))
  end
end
-- The oldest live ticket and its remaining life in ms, or nil. Expired tickets
-- are removed in bulk (up to 4 x 1000 per call) when one is found at the head.
local function live_head()
  now()
  for _ = 1, 4 do
    local range = redis.pcall('ZRANGE', QUEUE, 0, 0)
    local first = type(range) == 'table' and range[1]
    if not first then return nil end
    local expiry = tonumber(redis.pcall('ZSCORE', TICKETS, first))
    if expiry and expiry > clock_ms then return first, expiry - clock_ms end
    drop({first})
    local dead = redis.pcall('ZRANGEBYSCORE', TICKETS, '-inf', clock_ms, 'LIMIT', 0, 1000)
    if type(dead) == 'table' then drop(dead) end
  end
  return nil
end
-- The entry of a queued ticket ({token, ttl, identity, data, inbox, direct}), or nil.
local function entry_of(ticket)
  local packed = ticket and redis.pcall('HGET', ENTRIES, ticket)
  if type(packed) ~= 'string' then return nil end
  return cmsgpack.unpack(packed)
end
-- The ticket queued right after `first` (perhaps expired: it is only told).
local function second_after(first)
  local range = redis.pcall('ZRANGE', QUEUE, 0, 1)
  if type(range) ~= 'table' or range[1] ~= first then return nil end
  return range[2]
end
-- Publishes `message` on the inboxes `a` and `b` (either may be nil, once if
-- equal) with `command` (PUBLISH or SPUBLISH); the number of receivers.
local function tell(command, a, b, message)
  local n = 0
  if a then n = n + (tonumber(redis.pcall(command, a, message)) or 0) end
  if b and b ~= a then n = n + (tonumber(redis.pcall(command, b, message)) or 0) end
  return n
end
-- Queues `ticket` (keeping its place if queued), extends its life by `ttl` ms
-- and records `entry` (packed) as what a direct grant gives it. The keys live
-- twice the longest ttl, refreshed when less than one ttl is left.
local function enqueue(ticket, ttl, entry)
  if ticket == '' then return end
  now()
  if type(redis.pcall('ZADD', QUEUE, 'NX', clock_us, ticket)) ~= 'number' then return end
  redis.pcall('ZADD', TICKETS, clock_ms + ttl, ticket)
  redis.pcall('HSET', ENTRIES, ticket, entry)
  local left = redis.pcall('PTTL', QUEUE)
  if type(left) == 'number' and left < ttl then
    redis.pcall('PEXPIRE', QUEUE, 2 * ttl)
    redis.pcall('PEXPIRE', TICKETS, 2 * ttl)
    redis.pcall('PEXPIRE', ENTRIES, 2 * ttl)
  end
end
