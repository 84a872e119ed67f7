--[[ read: the current holder without acquiring.
  KEYS[1]  lease key {ns:name}:lease
  Returns
    {0}                                vacant (or reserved for waiters after a release)
    {1, identity, term, data, pttl}    held for pttl more ms
    {-1, key, type, pttl}              the key holds data tenure did not write ]]
local pttl = redis.call('PTTL', KEYS[1])
if pttl == -2 then
  return {0}
end
local h = redis.pcall('HMGET', KEYS[1], 'v', 'identity', 'term', 'data', 'handoff')
if h['err'] then
  return {-1, KEYS[1], redis.call('TYPE', KEYS[1])['ok'], pttl}
end
if h[1] ~= '1' or pttl < 0 then
  return {-1, KEYS[1], 'hash', pttl}
end
if h[5] == '1' then
  return {0} -- a hand-off reservation: vacant, nobody holds it
end
return {1, h[2], h[3], h[4], pttl}
