package cache

import "github.com/redis/go-redis/v9"

// The scripts run with EVALSHA (falling back to EVAL after a restart or on a new cluster node).
// Each touches only keys that share a hash slot: a value and its lease, or one generation key.

// fillScript writes a value only if the caller still holds the lease, then drops the lease.
// KEYS: value, lease. ARGV: token, payload, ttl in ms. Returns 1 if written, 0 if the lease was
// lost (an invalidation or a newer read took it).
var fillScript = redis.NewScript(`
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
`)

// releaseScript drops the caller's lease (after a failed load) so other environments can fill
// the key without waiting for the lease to expire. KEYS: lease. ARGV: token.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// genInitScript returns a scope's generation, creating it at the current time in ms when it is
// missing (see the package comment on why not 0). KEYS: gen. ARGV: now in µs, ttl in ms.
var genInitScript = redis.NewScript(`
local g = redis.call('GET', KEYS[1])
if g then return g end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`)

// genBumpScript sets a scope's generation to max(gen+1, now in µs) and refreshes its TTL.
// KEYS: gen. ARGV: now in µs, ttl in ms. Returns the new generation.
var genBumpScript = redis.NewScript(`
local g = redis.call('INCR', KEYS[1])
if g < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return tonumber(ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return g
`)
