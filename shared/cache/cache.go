package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// Defaults for Options.
const (
	DefaultPrefix        = "cache:"
	DefaultJitter        = 0.1
	DefaultNegativeTTL   = 5 * time.Second
	DefaultLeaseTTL      = 5 * time.Second
	DefaultGenerationTTL = 24 * time.Hour
	DefaultCooldown      = time.Second
)

// Options configures a Cache. Zero values take the Default* constants.
type Options struct {
	// Prefix namespaces every key this Cache writes, so several caches (or tests) can share
	// one Redis.
	Prefix string
	// Jitter spreads each TTL uniformly over ±Jitter of its length, so entries filled
	// together do not expire together. Negative disables it.
	Jitter float64
	// NegativeTTL is how long a loader's not-found answer is cached. Negative disables
	// negative caching.
	NegativeTTL time.Duration
	// LeaseTTL bounds a fill: a load that takes longer is not written back. It only affects
	// efficiency, never correctness.
	LeaseTTL time.Duration
	// GenerationTTL lets generation keys of scopes nobody reads expire; it is refreshed on
	// every Bump and must be much longer than any list TTL.
	GenerationTTL time.Duration
	// Cooldown is how long reads skip Redis after a connection-level failure. Negative
	// disables it (every read then tries Redis and pays up to one timeout).
	Cooldown time.Duration
	// Epochs, if set, fences the cache (see the package comment): every key carries the current
	// epoch, and an invalidation that fails advances it instead of leaving stale entries for a
	// TTL. Functions set it (platform); without it a failed invalidation is only returned.
	Epochs Epochs
	// EpochInterval is how long an epoch read from Epochs is used before it is read again;
	// zero takes DefaultEpochInterval.
	EpochInterval time.Duration
	// Observer, if set, is told about every hit, miss and error, for metrics.
	Observer Observer
	// Logger receives Redis errors at debug level; nil means slog.Default().
	Logger *slog.Logger
}

// Observer receives cache events for metrics. Its methods are called synchronously on the
// request path and must be cheap and safe for concurrent use. name is the first ':'-separated
// segment of the logical key ("project"), "gen" for generation keys, or "uncached" for a read
// that was not cacheable (an empty key, a list without scopes, or a ttl <= 0).
//
// ctx is the caller's context, so an observer can attribute the event to the request that caused
// it (shared/metrics keeps a per-request record there).
type Observer interface {
	CacheHit(ctx context.Context, name string)
	CacheMiss(ctx context.Context, name string)
	CacheError(ctx context.Context, name string, err error)
}

// Stats is a snapshot of a Cache's counters since New.
type Stats struct {
	// Hits are reads answered from Redis, tombstones included.
	Hits uint64
	// Misses are reads answered by the loader (a Redis error is also a miss).
	Misses uint64
	// Errors are failed Redis calls and undecodable entries.
	Errors uint64
	// Discarded are fills not written because an invalidation (or a bypassing read) took the
	// lease while the value was loading: each one is a stale value kept out of the cache.
	Discarded uint64
	// Bypassed are reads that skipped the lookup because of WithBypass.
	Bypassed uint64
	// Fences are invalidations that failed in Redis and advanced the epoch instead.
	Fences uint64
}

// Cache is a typed cache-aside over a go-redis client, safe for concurrent use. Build one per
// process with New and use it through Get, GetList, Delete and Bump. A nil *Cache is valid and
// caches nothing, so a function can run without Redis.
type Cache struct {
	client   redis.UniversalClient
	prefix   string
	jitter   float64
	negTTL   time.Duration
	leaseTTL time.Duration
	genTTL   time.Duration
	cooldown time.Duration
	observer Observer
	logger   *slog.Logger

	epochs     Epochs
	epochEvery time.Duration
	epoch      atomic.Pointer[epochState] // nil until first read
	epochGroup singleflight.Group

	group     singleflight.Group
	downUntil atomic.Int64 // UnixNano until which reads skip Redis

	hits, misses, errs, discarded, bypassed, fences atomic.Uint64

	// hookJoined, when set by tests, runs after a read has joined (or started) the
	// singleflight for its key.
	hookJoined func(key string)
}

// New returns a Cache over client. client may be a standalone or a cluster client.
func New(client redis.UniversalClient, o Options) *Cache {
	c := &Cache{
		client:   client,
		prefix:   o.Prefix,
		jitter:   o.Jitter,
		negTTL:   o.NegativeTTL,
		leaseTTL: o.LeaseTTL,
		genTTL:   o.GenerationTTL,
		cooldown: o.Cooldown,
		observer: o.Observer,
		logger:   o.Logger,

		epochs:     o.Epochs,
		epochEvery: o.EpochInterval,
	}
	if c.epochEvery <= 0 {
		c.epochEvery = DefaultEpochInterval
	}
	if c.prefix == "" {
		c.prefix = DefaultPrefix
	}
	if c.jitter == 0 {
		c.jitter = DefaultJitter
	}
	c.jitter = min(c.jitter, 0.5)
	if c.negTTL == 0 {
		c.negTTL = DefaultNegativeTTL
	}
	if c.leaseTTL <= 0 {
		c.leaseTTL = DefaultLeaseTTL
	}
	if c.genTTL <= 0 {
		c.genTTL = DefaultGenerationTTL
	}
	if c.cooldown == 0 {
		c.cooldown = DefaultCooldown
	}
	return c
}

// Stats returns the counters since New.
func (c *Cache) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	return Stats{
		Hits:      c.hits.Load(),
		Misses:    c.misses.Load(),
		Errors:    c.errs.Load(),
		Discarded: c.discarded.Load(),
		Bypassed:  c.bypassed.Load(),
		Fences:    c.fences.Load(),
	}
}

// Delete invalidates keys (logical keys, as passed to Get). Call it after the write commits,
// also after a create (a tombstone may be cached). It removes each value with its lease, so a
// fill that loaded before the commit is discarded.
//
// If Redis fails (twice: one retry), Delete advances the epoch (Options.Epochs), which retires
// every entry at once, and returns nil: the invalidation is done by other means. It returns an
// error only when that failed too, or without Epochs; the write has committed, so the caller
// logs it rather than fails the request.
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	return c.Invalidate(ctx, keys, nil)
}

// Invalidate is Delete of keys and Bump of each of scopes in one pipeline, so that what a
// committed write retires (its rows' entries, its organization's lists, its views) costs one
// round trip. Its failures are handled as Delete's: one retry, then the epoch.
func (c *Cache) Invalidate(ctx context.Context, keys, scopes []string) error {
	if c == nil || len(keys)+len(scopes) == 0 {
		return nil
	}
	name := genName
	if len(keys) > 0 {
		name = nameOf(keys[0])
	}
	st, ok := c.keyPrefix(ctx)
	if !ok {
		return c.fence(ctx, name, errors.New("cache: invalidate: epoch unknown"))
	}
	vks := make([]string, 0, len(keys))
	for _, k := range keys {
		if k != "" {
			vks = append(vks, c.valueKey(st.prefix, k))
		}
	}
	gks := make([]string, len(scopes))
	for i, s := range scopes {
		gks[i] = c.genKey(st.prefix, s)
	}
	now, ttl := time.Now().UnixMicro(), c.genTTL.Milliseconds()
	err := c.retry(ctx, func(ctx context.Context) error {
		pipe := c.client.Pipeline()
		for _, vk := range vks {
			pipe.Del(ctx, vk, vk+leaseSuffix)
		}
		for _, gk := range gks {
			genBumpScript.EvalSha(ctx, pipe, []string{gk}, now, ttl)
		}
		cmds, _ := pipe.Exec(ctx) // each command's error is looked at below
		for i, cmd := range cmds {
			err := cmd.Err()
			if err != nil && i >= len(vks) && redis.HasErrorPrefix(err, "NOSCRIPT") {
				// A Redis that has not run the script yet (restarted, or a new node): Run
				// loads it (EVALSHA, then EVAL). A bump is monotonic, so running it again
				// after a retry does no harm.
				err = genBumpScript.Run(ctx, c.client, []string{gks[i-len(vks)]}, now, ttl).Err()
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	// Forget after the DEL: a read that starts after Invalidate returns must not join a load
	// that started before the commit.
	for _, vk := range vks {
		c.group.Forget(vk)
	}
	if err != nil {
		c.fail(ctx, name, err, true)
		return c.fence(ctx, name, fmt.Errorf("cache: invalidate: %w", err))
	}
	return nil
}

// retry runs an invalidation, and once more if it failed for a reason other than the caller's
// context: one lost reply should not retire the whole cache.
func (c *Cache) retry(ctx context.Context, op func(context.Context) error) error {
	err := op(ctx)
	if err != nil && ctx.Err() == nil && isConnError(err) {
		err = op(ctx)
	}
	return err
}

// Bump invalidates every list of scope (see GetList) by moving its generation forward. Call it
// after the write commits. Its failures are handled as Delete's: one retry, then the epoch.
func (c *Cache) Bump(ctx context.Context, scope string) error {
	return c.Invalidate(ctx, nil, []string{scope})
}

const (
	leaseSuffix  = ":lease"
	genName      = "gen"
	uncachedName = "uncached"
)

// partEscaper makes ListKey injective: a ':' inside a scope or part cannot fake a boundary,
// and no brace can start a hash tag.
var partEscaper = strings.NewReplacer("%", "%25", ":", "%3A", "{", "%7B", "}", "%7D")

// keyEscaper keeps a logical key from ending the value key's hash tag early. Only '}' matters
// (an empty tag "{}" would split a value from its lease across slots); '%' is escaped so the
// mapping stays one-to-one.
var keyEscaper = strings.NewReplacer("%", "%25", "}", "%7D")

// valueKey is <prefix>{key}, prefix being an epoch's (epochState.prefix); see the package
// comment.
func (c *Cache) valueKey(prefix, key string) string {
	if strings.ContainsAny(key, "%}") {
		key = keyEscaper.Replace(key)
	}
	return prefix + "{" + key + "}"
}

func (c *Cache) genKey(prefix, scope string) string {
	return prefix + "gen:{" + partEscaper.Replace(scope) + "}"
}

// nameOf is the metric name of a logical key: its first ':'-separated segment.
func nameOf(key string) string {
	if i := strings.IndexByte(key, ':'); i >= 0 {
		return key[:i]
	}
	return key
}

// up reports whether reads should try Redis, i.e. no connection-level failure in the last
// Cooldown.
func (c *Cache) up() bool {
	d := c.downUntil.Load()
	return d == 0 || time.Now().UnixNano() >= d
}

func (c *Cache) hit(ctx context.Context, name string) {
	c.hits.Add(1)
	if c.observer != nil {
		c.observer.CacheHit(ctx, name)
	}
}

func (c *Cache) miss(ctx context.Context, name string) {
	c.misses.Add(1)
	if c.observer != nil {
		c.observer.CacheMiss(ctx, name)
	}
}

// fail counts and logs err. With trip set (a Redis call failed, as opposed to a bad entry) it
// also makes reads skip Redis for Cooldown, unless the failure was the caller's own context
// ending, which says nothing about Redis.
func (c *Cache) fail(ctx context.Context, name string, err error, trip bool) {
	c.errs.Add(1)
	if c.observer != nil {
		c.observer.CacheError(ctx, name, err)
	}
	c.log().LogAttrs(ctx, slog.LevelDebug, "cache error", slog.String("name", name), slog.String("error", err.Error()))
	if trip && c.cooldown > 0 && ctx.Err() == nil && isConnError(err) {
		c.downUntil.Store(time.Now().Add(c.cooldown).UnixNano())
	}
}

func (c *Cache) log() *slog.Logger {
	if c.logger == nil {
		return slog.Default()
	}
	return c.logger
}

// isConnError tells a Redis that is unreachable or too slow (worth skipping for a while) from a
// Redis that answered with an error reply (a bug worth seeing on every request).
func isConnError(err error) bool {
	var re redis.Error
	if errors.As(err, &re) {
		// Replies that mean "this node cannot serve now" still warrant the cooldown.
		msg := re.Error()
		return strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "CLUSTERDOWN") ||
			strings.HasPrefix(msg, "MASTERDOWN") || strings.HasPrefix(msg, "TRYAGAIN")
	}
	return !errors.Is(err, redis.Nil)
}

// jittered spreads ttl over ±jitter, never below a millisecond (SET PX's unit).
func (c *Cache) jittered(ttl time.Duration) time.Duration {
	if c.jitter > 0 {
		ttl += time.Duration((rand.Float64()*2 - 1) * c.jitter * float64(ttl)) // #nosec G404 -- jitter only spreads expiries; nothing relies on it being unpredictable
	}
	return max(ttl, time.Millisecond)
}

// newToken returns a lease token. It needs to be unique among the readers of one key within
// LeaseTTL, not unguessable.
func newToken() string {
	return strconv.FormatUint(rand.Uint64(), 36) // #nosec G404 -- unique, not secret (above): only clients of this Redis, which can write the key anyway, see it
}
