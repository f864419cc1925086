package cache

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Prefetch reads, in one round trip, the entries of keys (logical keys, as passed to Get and
// GetList) and the generations of scopes (as passed to GetList) that the caller is about to ask
// for, and returns a context in which Get and GetList answer those keys from what it read instead
// of with a GET each. It is for a request that knows up front several keys it needs, none of
// which depends on another: GET /projects/{id} needs the caller's memberships and the project, so
// two round trips become one; a cached list needs the memberships, its page and its
// organization's generation. On a cluster the pipeline is split by node and the nodes are asked in parallel.
//
// Each prefetched reply is used once, by the first Get or GetList of its key in that context; a
// later read of the key (after a write in the same request, say) goes to Redis again, so a
// prefetch never makes a request see a value older than it would have seen without it. Misses,
// hits, tombstones and Redis errors are handled by Get and GetList exactly as if they had sent
// the GET themselves, so metrics, fills, leases and failure handling are unchanged. Prefetch
// itself reports nothing and never fails: with no cache, Redis in its cooldown or nothing to
// read it returns ctx as it is. Under WithBypass the keys are not read (Get skips its lookup);
// the scopes still are.
func (c *Cache) Prefetch(ctx context.Context, keys, scopes []string) context.Context {
	pipe := c.pipeline()
	if pipe == nil {
		return ctx
	}
	q := c.Queue(ctx, pipe, keys, scopes)
	if q == nil {
		return ctx
	}
	// Each command carries its own error (redis.Nil for a missing key), which the Get or
	// GetList that takes it handles as its own.
	_, _ = pipe.Exec(ctx)
	return q.Context(ctx)
}

// pipeline is a pipeline of c's client, or nil without a cache.
func (c *Cache) pipeline() redis.Pipeliner {
	if c == nil {
		return nil
	}
	return c.client.Pipeline()
}

// Queued is a prefetch queued on a pipeline that its caller executes.
type Queued struct {
	p *prefetched
}

// Queue is Prefetch's first half: it queues the GETs on pipe and returns what attaches their
// replies to a context once pipe has run, or nil when there is nothing to read (as Prefetch
// returns ctx unchanged). pipe may belong to another client of the same Redis: the session
// check's pipeline carries a request's cache reads that way (resource and report handlers are
// auth.Joiners), so that the session, the rate limit and the cache cost one round trip
// together.
//
// Keys that ctx's prefetch already holds, untaken, are not queued again, so a handler that
// prefetches what its Joiner already queued sends nothing.
func (c *Cache) Queue(ctx context.Context, pipe redis.Pipeliner, keys, scopes []string) *Queued {
	if c == nil || !c.up() {
		return nil
	}
	if Bypassed(ctx) {
		keys = nil
	}
	if len(keys)+len(scopes) == 0 {
		return nil
	}
	st, ok := c.keyPrefix(ctx)
	if !ok {
		return nil // Get and GetList will not read Redis either
	}
	held, _ := ctx.Value(prefetchKey{}).(*prefetched)
	if held != nil && held.c != c {
		held = nil
	}
	p := &prefetched{c: c, replies: make(map[string]*redis.StringCmd, len(keys)+len(scopes))}
	queue := func(redisKey string) {
		if held.has(redisKey) {
			return
		}
		p.replies[redisKey] = pipe.Get(ctx, redisKey)
	}
	for _, k := range keys {
		if k != "" {
			queue(c.valueKey(st.prefix, k))
		}
	}
	for _, s := range scopes {
		queue(c.genKey(st.prefix, s))
	}
	if len(p.replies) == 0 {
		return nil
	}
	if held != nil {
		held.mu.Lock()
		for k, cmd := range held.replies {
			p.replies[k] = cmd // the untaken replies of the earlier prefetch stay usable
		}
		held.mu.Unlock()
	}
	return &Queued{p: p}
}

// Context returns ctx in which Get and GetList take the queued replies. It is nil-safe: a nil
// Queued (nothing queued) returns ctx.
func (q *Queued) Context(ctx context.Context) context.Context {
	if q == nil {
		return ctx
	}
	return context.WithValue(ctx, prefetchKey{}, q.p)
}

// prefetchKey is the private context key for Prefetch's replies.
type prefetchKey struct{}

// prefetched holds one Prefetch's replies by Redis key until they are taken.
type prefetched struct {
	c       *Cache // replies are only valid for the Cache (client and prefix) that read them
	mu      sync.Mutex
	replies map[string]*redis.StringCmd
}

// has reports whether p holds an untaken reply for redisKey; nil holds none.
func (p *prefetched) has(redisKey string) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.replies[redisKey]
	return ok
}

// get returns the reply to GET redisKey: the one prefetched in ctx, taken so that it is used
// once, or a fresh GET.
func (c *Cache) get(ctx context.Context, redisKey string) *redis.StringCmd {
	if p, _ := ctx.Value(prefetchKey{}).(*prefetched); p != nil && p.c == c {
		p.mu.Lock()
		cmd, ok := p.replies[redisKey]
		delete(p.replies, redisKey)
		p.mu.Unlock()
		if ok {
			return cmd
		}
	}
	return c.client.Get(ctx, redisKey)
}

// getAll returns the replies to GET of each of redisKeys, in order: the ones prefetched in ctx
// (taken, as get takes them), and the others read together, in one round trip.
func (c *Cache) getAll(ctx context.Context, redisKeys []string) []*redis.StringCmd {
	replies := make([]*redis.StringCmd, len(redisKeys))
	missing := 0
	if p, _ := ctx.Value(prefetchKey{}).(*prefetched); p != nil && p.c == c {
		p.mu.Lock()
		for i, k := range redisKeys {
			if cmd, ok := p.replies[k]; ok {
				replies[i] = cmd
				delete(p.replies, k)
			} else {
				missing++
			}
		}
		p.mu.Unlock()
	} else {
		missing = len(redisKeys)
	}
	switch missing {
	case 0:
	case 1:
		for i, r := range replies {
			if r == nil {
				replies[i] = c.client.Get(ctx, redisKeys[i])
			}
		}
	default:
		pipe := c.client.Pipeline()
		for i, r := range replies {
			if r == nil {
				replies[i] = pipe.Get(ctx, redisKeys[i])
			}
		}
		_, _ = pipe.Exec(ctx) // each reply carries its own error, as in Prefetch
	}
	return replies
}
