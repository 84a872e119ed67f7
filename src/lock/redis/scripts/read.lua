--[[ read: the current holder without acquiring.
  KEYS[1]  lease key {ns:name}:lease
  Returns
    {0}                                vacant
    {1, identity, term, data, pttl}    held for pttl more ms
    {-1, key, type, pttl}              the key holds data tenure did not write ]]
local leaseType = redis.call('TYPE', KEYS[1])['ok']
if leaseType == 'none' then
  return {0}
end
local pttl = redis.call('PTTL', KEYS[1])
if leaseType ~= 'hash' then
  return {-1, KEYS[1], leaseType, pttl}
end
local h = redis.call('HMGET', KEYS[1], 'v', 'identity', 'term', 'data')
if h[1] ~= '1' or pttl < 0 then
  return {-1, KEYS[1], 'hash', pttl}
end
return {1, h[2], h[3], h[4], pttl}
