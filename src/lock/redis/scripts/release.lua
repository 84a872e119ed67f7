--[[ release: compare-and-delete, then notify waiters and reserve the name for them.
  KEYS[1]  lease key      {ns:name}:lease
  Also used, not declared: the FIFO queue keys (see lib/queue.lua)
  ARGV[1]  ownership token
  ARGV[2]  notification channel
  ARGV[3]  hand-off window in ms (0 = off)
  ARGV[4]  '1' on a Redis Cluster: sharded pub/sub (SPUBLISH, PUBSUB SHARDNUMSUB),
           whose counts cover the shard's subscribers wherever they connect;
           else '0' (PUBLISH, PUBSUB NUMSUB)
  Returns
    1    released (deleted; 'released:<n>[:<life>:<ticket>]' published on the
         channel, n = the number of subscribers it reaches, or -1 if PUBSUB
         NUMSUB is denied; <ticket> = the oldest live queued ticket, whose turn
         it is, and <life> the ms it lives unless it attempts: the others come
         back by then in case it died)
    0    not the owner (expired, released or held by another): nothing changed
  When PUBLISH reached at least one subscriber (someone waits or watches) and
  the window is on, the key becomes a reservation {v=1, token='', handoff=1}
  for that many ms: only callers that were already waiting may take it (see
  acquire.lua). It has no owner token, so nobody can renew or release it.
  Naming the next ticket wakes one waiter per release instead of all of them;
  expired tickets met at the head are dropped. ]]
--#include lib/queue.lua
if redis.pcall('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
local next_ticket = ''
if queued() then
  local first, life = live_head()
  if first then next_ticket = ':' .. life .. ':' .. first end
end
local sharded = ARGV[4] == '1'
local numsub = redis.pcall('PUBSUB', sharded and 'SHARDNUMSUB' or 'NUMSUB', ARGV[2])
local subscribers = type(numsub) == 'table' and tonumber(numsub[2]) or -1
local receivers = redis.pcall(sharded and 'SPUBLISH' or 'PUBLISH', ARGV[2], 'released:' .. subscribers .. next_ticket)
local handoff = tonumber(ARGV[3])
if handoff and handoff > 0 and type(receivers) == 'number' and receivers > 0 then
  redis.call('HSET', KEYS[1], 'v', '1', 'token', '', 'handoff', '1')
  redis.call('PEXPIRE', KEYS[1], handoff)
end
return 1
