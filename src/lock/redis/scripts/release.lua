--[[ release: compare-and-delete, then notify waiters and reserve the name for them.
  KEYS[1]  lease key      {ns:name}:lease
  KEYS[2]  term counter   {ns:name}:term
  Also used, not declared: the FIFO queue keys (see lib/queue.lua)
  ARGV[1]  ownership token
  ARGV[2]  notification channel
  ARGV[3]  hand-off window in ms (0 = off)
  ARGV[4]  '1' on a Redis Cluster: sharded pub/sub (SPUBLISH, PUBSUB SHARDNUMSUB),
           whose counts cover the shard's subscribers wherever they connect;
           else '0' (PUBLISH, PUBSUB NUMSUB)
  ARGV[5]  '1': grant the lease directly to the oldest live queued ticket (no
           waitReplicas: such a grant would not be confirmed by WAIT), else '0';
           also never to a ticket whose own store confirms with WAIT (its entry
           says so)
  Returns
    1    released (deleted; 'released:<n>[:<life>:<ticket>]' published on the
         channel, and to the inboxes of that ticket and the next (see
         lib/queue.lua), n = the number of subscribers it reaches, or -1 if PUBSUB
         NUMSUB is denied; <ticket> = the oldest live queued ticket, whose turn
         it is, and <life> the ms it lives unless it attempts: the others come
         back by then in case it died)
    0    not the owner (expired, released or held by another): nothing changed
  When PUBLISH reached at least one subscriber (someone waits or watches) and
  the window is on, the key becomes a reservation {v=1, token='', handoff=1}
  for that many ms: only callers that were already waiting may take it (see
  acquire.lua). It has no owner token, so nobody can renew or release it.
  Naming the next ticket wakes one waiter per release instead of all of them;
  expired tickets met at the head are dropped.
  Direct grant (ARGV[5] = '1'): the lease passes to the oldest live ticket at
  once, with the token, ttl, identity and data of that ticket's latest attempt
  and a new term (the rule of acquire.lua), and 'granted:<term>:<ttl>:<sha1 of
  the token>:<ticket>' is published to its inbox and the next ticket's (which
  comes back by ttl in case the grantee died), 'acquired' on the channel: the
  waiter holds it without another round trip. Its validity starts when that
  attempt was sent, before this grant, so it never overestimates. If the counter is missing (data loss) or the entry is
  gone, the release falls back to naming the ticket. A waiter that does not
  take the grant up (dead) holds the name for at most its ttl; one that gave up
  withdraws it (withdraw.lua). ]]
--#include lib/queue.lua
if redis.pcall('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
local publish = ARGV[4] == '1' and 'SPUBLISH' or 'PUBLISH'
local first, life
if queued() then first, life = live_head() end
local entry = entry_of(first)
local second = entry and entry_of(second_after(first))
local inbox, second_inbox = entry and entry[5], second and second[5]
if entry and ARGV[5] == '1' and entry[6] ~= '0' then
  local counter = tonumber(redis.pcall('GET', KEYS[2]))
  if counter and counter > 1 then
    local term = counter + 1
    if clock_us > term then term = clock_us end
    local issued = string.format('%.0f', term)
    redis.call('SET', KEYS[2], issued)
    redis.call('HSET', KEYS[1], 'v', '1', 'token', entry[1], 'term', issued,
      'identity', entry[3], 'data', entry[4], 'ticket', first)
    redis.call('PEXPIRE', KEYS[1], entry[2])
    drop({first})
    tell(publish, inbox, second_inbox,
      'granted:' .. issued .. ':' .. entry[2] .. ':' .. redis.sha1hex(entry[1]) .. ':' .. first)
    redis.pcall(publish, ARGV[2], 'acquired')
    return 1
  end
end
redis.call('DEL', KEYS[1])
local next_ticket = first and (':' .. life .. ':' .. first) or ''
local numsub = redis.pcall('PUBSUB', ARGV[4] == '1' and 'SHARDNUMSUB' or 'NUMSUB', ARGV[2])
local subscribers = type(numsub) == 'table' and tonumber(numsub[2]) or -1
local receivers = redis.pcall(publish, ARGV[2], 'released:' .. subscribers .. next_ticket)
receivers = (tonumber(receivers) or 0) + tell(publish, inbox, second_inbox, 'released:-1' .. next_ticket)
local handoff = tonumber(ARGV[3])
if handoff and handoff > 0 and receivers > 0 then
  redis.call('HSET', KEYS[1], 'v', '1', 'token', '', 'handoff', '1')
  redis.call('PEXPIRE', KEYS[1], handoff)
end
return 1
