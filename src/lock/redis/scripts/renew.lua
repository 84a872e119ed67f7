--[[ renew: extend the lease only if the caller still owns it; never re-create it.
  KEYS[1]  lease key {ns:name}:lease
  ARGV[1]  ownership token
  ARGV[2]  ttl in ms (integer >= 1)
  Returns
    1    renewed: the lease now expires ttl ms from now
    0    no lease (expired or released)
    -1   another owner holds it (or the key holds data tenure did not write) ]]
local token = redis.pcall('HGET', KEYS[1], 'token')
if token == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
return -1
