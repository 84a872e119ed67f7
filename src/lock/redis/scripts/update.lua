--[[ update: replace the holder's data only if the caller still owns the lease;
  the term and the expiry stay as they are.
  KEYS[1]  lease key {ns:name}:lease
  ARGV[1]  ownership token
  ARGV[2]  new data
  ARGV[3]  notification channel
  ARGV[4]  publish command: 'PUBLISH', or 'SPUBLISH' on a Redis Cluster
  Returns
    1    updated ('updated' published on the channel)
    0    no lease (expired, released, or a hand-off reservation)
    -1   another owner holds it (or the key holds data tenure did not write) ]]
local token = redis.pcall('HGET', KEYS[1], 'token')
if token == ARGV[1] then
  redis.call('HSET', KEYS[1], 'data', ARGV[2])
  redis.pcall(ARGV[4], ARGV[3], 'updated')
  return 1
end
if token == '' or redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
return -1
