package cache

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Prefetch reads, in one round trip, the entries of keys (logical keys, as passed to Get) and the
// generations of scopes (as passed to ListKey) that the caller is about to ask for, and returns a
// context in which Get and ListKey answer those keys from what it read instead of with a GET
// each. It is for a request that knows up front several keys it needs, none of which depends on
// another: GET /projects/{id} needs the caller's memberships and the project, so two round trips
// become one. On a cluster the pipeline is split by node and the nodes are asked in parallel.
//
// Each prefetched reply is used once, by the first Get or ListKey of its key in that context; a
// later read of the key (after a write in the same request, say) goes to Redis again, so a
// prefetch never makes a request see a value older than it would have seen without it. Misses,
// hits, tombstones and Redis errors are handled by Get and ListKey exactly as if they had sent
// the GET themselves, so metrics, fills, leases and failure handling are unchanged. Prefetch
// itself reports nothing and never fails: with no cache, Redis in its cooldown or nothing to
// read it returns ctx as it is. Under WithBypass the keys are not read (Get skips its lookup);
// the scopes still are.
func (c *Cache) Prefetch(ctx context.Context, keys, scopes []string) context.Context {
	if c == nil || !c.up() {
		return ctx
	}
	if Bypassed(ctx) {
		keys = nil
	}
	if len(keys)+len(scopes) == 0 {
		return ctx
	}
	st, ok := c.keyPrefix(ctx)
	if !ok {
		return ctx // Get and ListKey will not read Redis either
	}
	p := &prefetched{c: c, replies: make(map[string]*redis.StringCmd, len(keys)+len(scopes))}
	pipe := c.client.Pipeline()
	for _, k := range keys {
		if k != "" {
			vk := c.valueKey(st.prefix, k)
			p.replies[vk] = pipe.Get(ctx, vk)
		}
	}
	for _, s := range scopes {
		gk := c.genKey(st.prefix, s)
		p.replies[gk] = pipe.Get(ctx, gk)
	}
	// Each command carries its own error (redis.Nil for a missing key), which the Get or
	// ListKey that takes it handles as its own.
	_, _ = pipe.Exec(ctx)
	return context.WithValue(ctx, prefetchKey{}, p)
}

// prefetchKey is the private context key for Prefetch's replies.
type prefetchKey struct{}

// prefetched holds one Prefetch's replies by Redis key until they are taken.
type prefetched struct {
	c       *Cache // replies are only valid for the Cache (client and prefix) that read them
	mu      sync.Mutex
	replies map[string]*redis.StringCmd
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
