--[[ release: compare-and-delete, then notify waiters.
  KEYS[1]  lease key {ns:name}:lease
  ARGV[1]  ownership token
  ARGV[2]  notification channel
  Returns
    1    released (deleted; 'released' published on the channel)
    0    not the owner (expired, released or held by another): nothing changed ]]
if redis.pcall('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.pcall('PUBLISH', ARGV[2], 'released')
  return 1
end
return 0
