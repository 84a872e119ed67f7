/**
 * The previous term rule, kept to prove that the term tests and the U7 fault
 * scenario detect the bug it had. `legacyAcquireLua` is acquire.lua as
 * shipped up to commit d1325f0, verbatim: it re-seeds the term counter from
 * TIME only when the counter is missing (INCR returned 1), so a counter that
 * comes back stale (an older RDB snapshot, a replica that lagged) issues
 * terms that were issued already. `withLegacyAcquire` makes a client run it
 * wherever the store runs the shipped acquire.lua.
 */
import { createHash } from 'node:crypto';
import { acquireLua } from '../../src/lock/redis/scripts.generated.js';

const sha1 = (source: string): string => createHash('sha1').update(source).digest('hex');

/** acquire.lua at commit d1325f0 (seeds only a missing counter). */
export const legacyAcquireLua = `--[[ acquire: grant the lease if nobody holds it, with a new fencing term.
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
  Returns
    {1, term}                          acquired
    {0, identity, term, data, pttl}    held by another owner for pttl more ms
    {2, pttl}                          reserved for waiting callers for pttl more ms
    {-1, key, type, pttl}              a key holds data tenure did not write; nothing changed
  A missing counter (first use, or the server lost its data) is seeded from the
  server clock in microseconds, so terms never go backwards across data loss.
  INCR on a missing counter yields 1, which no seeded counter ever returns, so
  the common path needs no existence check; likewise PTTL (-2 = no key) tells
  a vacant name apart without TYPE. Types are looked up only on error paths.
  With a quarantine, a missing counter also blocks the name for one lease period:
  a leader cut off from a server that restarted empty still trusts its lease until
  its deadline, so nobody may be granted the name before that. ]]
local pttl = redis.call('PTTL', KEYS[1])
if pttl ~= -2 then
  local h = redis.pcall('HMGET', KEYS[1], 'v', 'identity', 'term', 'data', 'handoff')
  if h['err'] then
    return {-1, KEYS[1], redis.call('TYPE', KEYS[1])['ok'], pttl}
  end
  if h[1] ~= '1' or pttl < 0 then
    return {-1, KEYS[1], 'hash', pttl}
  end
  if h[5] ~= '1' then
    return {0, h[2], h[3], h[4], pttl}
  end
  if ARGV[7] ~= '1' then
    return {2, pttl}
  end
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
if term <= 1 then
  local now = redis.call('TIME')
  local seed = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', KEYS[2], seed)
  local quarantine = tonumber(ARGV[6])
  if quarantine and quarantine > 0 then
    local identity = '(quarantine: term counter was missing)'
    redis.call('HSET', KEYS[1], 'v', '1', 'token', '', 'term', seed, 'identity', identity, 'data', '')
    redis.call('PEXPIRE', KEYS[1], quarantine)
    return {0, identity, seed, '', quarantine}
  end
  term = tonumber(seed)
end

redis.call('HSET', KEYS[1], 'v', '1', 'token', ARGV[1], 'term', string.format('%.0f', term),
  'identity', ARGV[3], 'data', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.pcall('PUBLISH', ARGV[5], 'acquired')
return {1, term}
`;

const SHIPPED_SHA = sha1(acquireLua);
const LEGACY_SHA = sha1(legacyAcquireLua);

/** A command (EVALSHA or EVAL, with its arguments) with the shipped acquire script swapped for the legacy one. */
function swap(command: readonly unknown[]): unknown[] {
  const [name, script, ...rest] = command;
  const verb = String(name).toLowerCase();
  if (verb === 'evalsha' && script === SHIPPED_SHA) return [name, LEGACY_SHA, ...rest];
  if (verb === 'eval' && script === acquireLua) return [name, legacyAcquireLua, ...rest];
  return [...command];
}

/**
 * `client` (an ioredis `Redis`) as seen through a proxy that runs the legacy
 * acquire script in place of the shipped one, for EVALSHA, EVAL (the NOSCRIPT
 * fallback) and pipelines (the `waitReplicas` path). Every other call goes
 * to `client` unchanged.
 */
export function withLegacyAcquire<C extends object>(client: C): C {
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (property === 'evalsha' || property === 'eval')
        return (...args: unknown[]) => method.apply(target, swap([property, ...args]).slice(1));
      if (property === 'pipeline')
        return (commands?: unknown[][]) =>
          method.call(
            target,
            commands?.map((command) => swap(command)),
          );
      return method.bind(target);
    },
  });
}
