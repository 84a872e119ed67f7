--[[ acquire: grant the lease if nobody holds it, with a new fencing term.
  KEYS[1]  lease key     {ns:name}:lease  hash {v, token, term, identity, data}, with a TTL
  KEYS[2]  term counter  {ns:name}:term   integer string: the last term issued; no TTL
  ARGV[1]  ownership token (random, 128-bit)
  ARGV[2]  ttl in ms (integer >= 1)
  ARGV[3]  identity (informational)
  ARGV[4]  data (opaque, may be empty)
  ARGV[5]  notification channel
  ARGV[6]  quarantine in ms (0 = off): when the term counter is missing, hold the
           name for this long under a quarantine lease instead of granting it
  ARGV[7]  '1' if the caller was already waiting for the name (may take a hand-off
           reservation left by release.lua), else '0'
  ARGV[8]  publish command: 'PUBLISH', or 'SPUBLISH' on a Redis Cluster (sharded
           pub/sub: the channel shares the keys' hash tag, so the shard's
           subscribers hear it wherever they are connected)
  ARGV[9]  ticket: identifies one waiting call across its attempts ('' = none)
  ARGV[10] the inbox of the caller's store: the channel where its tickets' turns
           are announced (see lib/queue.lua)
  ARGV[11] '1' if a release may grant this ticket the lease directly, '0' if not
           (the caller's store confirms grants with WAIT; a direct grant is not)
  Also used, not declared: the FIFO queue keys (see lib/queue.lua).
  Returns
    {1, term}                          acquired (also when this same attempt, same
                                       token, was already granted: a resend)
    {3, term, sha1(token)}             a release already granted this ticket the lease
                                       under the token with that SHA-1 (one of the
                                       caller's earlier attempts); now extended by ttl
    {0, identity, term, data, pttl}    held by another owner for pttl more ms
    {2, pttl}                          reserved for waiting callers for pttl more ms,
                                       or for the oldest queued ticket (pttl = how
                                       long that ticket lives without another attempt)
  FIFO queue: a caller with a ticket that is refused joins the queue (or stays
  in it, in its first place: ZADD NX); each attempt extends its ticket by ARGV[2]
  ms. While a live ticket is queued, a vacant name is granted only to the oldest
  live ticket (release.lua names it in its notification); expired tickets are
  dropped from the head when met. A ticket that stops attempting (its caller
  died) holds up the queue for at most its ttl. The queue keys expire with their
  longest-lived ticket, so an abandoned queue leaves nothing behind. A ticket
  leaves the queue when it is granted (whatever the path), never before: a
  quarantine or a refusal keeps its place. Callers without a ticket (tryLock,
  electors) do not queue and do not jump the queue.
    {-1, key, type, pttl}              a key holds data tenure did not write; nothing changed
  Terms: issued term = max(counter + 1, server TIME in microseconds), stored
  back in the counter. On one counter, terms strictly increase whatever the
  clock does (counter + 1). They also never repeat when the counter comes back
  missing (first use, data loss) or stale (restart from an older RDB/AOF,
  fail-over to a replica that lagged): each term is at most TIME when it was
  issued (by induction, as TIME advances between two scripts, each of which
  takes over 1 us), and the first acquisition after a restart or fail-over
  reads a TIME later than every earlier one by the time that took.
  Assumptions: a server's clock does not step back by as much as a restart or
  fail-over takes, and a replica's clock agrees with its primary's within that
  time. Microseconds since the epoch (~1.8e15) are below 2^53: exact in Lua's
  doubles, written with %.0f.
  INCR on a missing counter yields 1 (<= 1 also for one reset to 0 or below),
  which no issued term is, so the common path needs no existence check; likewise
  PTTL (-2 = no key) tells a vacant name apart without TYPE. Types are looked up
  only on error paths.
  With a quarantine, a missing counter also blocks the name for one lease period:
  a leader cut off from a server that restarted empty still trusts its lease until
  its deadline, so nobody may be granted the name before that. A stale counter
  cannot be told apart from a current one and does not quarantine. ]]
--#include lib/queue.lua
local ticket = ARGV[9]
local ttl = tonumber(ARGV[2])
local entry = ticket ~= '' and cmsgpack.pack({ARGV[1], ttl, ARGV[3], ARGV[4], ARGV[10], ARGV[11]}) or ''

local pttl = redis.call('PTTL', KEYS[1])
local reserved = false
if pttl ~= -2 then
  local h = redis.pcall('HMGET', KEYS[1], 'v', 'identity', 'term', 'data', 'handoff', 'ticket', 'token')
  if h['err'] then
    return {-1, KEYS[1], redis.call('TYPE', KEYS[1])['ok'], pttl}
  end
  if h[1] ~= '1' or pttl < 0 then
    return {-1, KEYS[1], 'hash', pttl}
  end
  if h[5] ~= '1' then
    if ticket ~= '' and h[6] == ticket then
      -- A release granted this call the lease (release.lua) under the token of one of its
      -- earlier attempts, and the call has not taken it up from the notification (lost, or
      -- still on its way). The lease is extended by ttl from now and the call told which
      -- of its tokens holds it. The token is never changed here: the call may already be
      -- using the grant, and this reply may come back too late to be read at all.
      redis.call('PEXPIRE', KEYS[1], ARGV[2])
      return {3, h[3], redis.sha1hex(h[7])}
    end
    if h[7] == ARGV[1] then
      -- This very attempt already ran and was granted: the client sent it again (ioredis
      -- resends the commands a lost connection left unanswered). The grant is this
      -- caller's; it was counted from before the first send, so extending it is safe.
      redis.call('PEXPIRE', KEYS[1], ARGV[2])
      return {1, h[3]}
    end
    enqueue(ticket, ttl, entry)
    return {0, h[2], h[3], h[4], pttl}
  end
  if ARGV[7] ~= '1' then
    enqueue(ticket, ttl, entry)
    return {2, pttl}
  end
  reserved = true
end

-- Vacant (or a reservation this waiting caller may take): the oldest live
-- ticket goes first. EXISTS on a missing queue is the whole cost when nobody queues.
if queued() then
  local first, life = live_head()
  if first and first ~= ticket then
    enqueue(ticket, ttl, entry)
    return {2, life}
  end
end
if reserved then
  redis.call('DEL', KEYS[1])
end

local term = redis.pcall('INCR', KEYS[2])
if type(term) == 'table' then
  local message = term['err'] or ''
  if string.find(message, 'WRONGTYPE', 1, true) or string.find(message, 'not an integer', 1, true) then
    return {-1, KEYS[2], redis.call('TYPE', KEYS[2])['ok'], -1}
  end
  return term -- anything else (READONLY, OOM, ...) is the caller's error reply, unchanged
end
now()
local clock = clock_us
local missing = term <= 1
if clock > term then
  term = clock
  redis.call('SET', KEYS[2], string.format('%.0f', term))
end
if missing then
  local quarantine = tonumber(ARGV[6])
  if quarantine and quarantine > 0 then
    local identity = '(quarantine: term counter was missing)'
    local issued = string.format('%.0f', term)
    redis.call('HSET', KEYS[1], 'v', '1', 'token', '', 'term', issued, 'identity', identity, 'data', '')
    redis.call('PEXPIRE', KEYS[1], quarantine)
    enqueue(ticket, ttl, entry)
    return {0, identity, issued, '', quarantine}
  end
end

if ticket ~= '' then drop({ticket}) end
redis.call('HSET', KEYS[1], 'v', '1', 'token', ARGV[1], 'term', string.format('%.0f', term),
  'identity', ARGV[3], 'data', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.pcall(ARGV[8], ARGV[5], 'acquired')
return {1, term}
