package guard

import (
	"context"
	"net/http"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
)

// Reads names the cache entries (keys) and generations (scopes) a request's handler reads first,
// before anything it reads depends on what came back. r carries the caller's auth.Principal and
// its path values. carry, if not nil, is what naming them took that the handler needs too (the
// list query it parsed): the handler takes it back with Carried, instead of working it out
// again. ok false means the request is not one whose reads are known up front.
type Reads func(r *http.Request) (keys, scopes []string, carry any, ok bool)

// Carried returns what the request's Reads carried to its handler, or nil.
func Carried(ctx context.Context) any { return ctx.Value(carriedKey{}) }

// carriedKey is the private context key of Reads' carry.
type carriedKey struct{}

// Prefetching returns h as an auth.Joiner whose cache reads ride the session check: Require
// sends the session's EXISTS, the rate limiter's script and the GETs that reads names in one
// pipeline, and h then runs in a context that holds their replies (cache.Queue), so a cached
// read costs one round trip to Redis in all instead of two. The GETs have no effect, so a
// request the session check or the limiter refuses has nothing to undo; a handler that
// prefetches the same keys again (cache.Prefetch) finds them held and sends nothing.
//
// The reads travel on the guards' client, whose timeout (REDIS_GUARD_TIMEOUT) is the session
// check's: the request waits for that round trip anyway.
func Prefetching(c *cache.Cache, reads Reads, h http.Handler) http.Handler {
	return prefetching{c: c, reads: reads, h: h}
}

type prefetching struct {
	c     *cache.Cache
	reads Reads
	h     http.Handler
}

func (p prefetching) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.h.ServeHTTP(w, r) }

func (p prefetching) JoinSessionCheck(_ redis.UniversalClient, pipe redis.Pipeliner, r *http.Request) auth.Joined {
	keys, scopes, carry, ok := p.reads(r)
	if !ok {
		return nil
	}
	return prefetched{q: p.c.Queue(r.Context(), pipe, keys, scopes), carry: carry, h: p.h}
}

// prefetched is one request whose reads rode the session check.
type prefetched struct {
	q     *cache.Queued
	carry any
	h     http.Handler
}

func (j prefetched) Serve(w http.ResponseWriter, r *http.Request) {
	ctx := j.q.Context(r.Context())
	if j.carry != nil {
		ctx = context.WithValue(ctx, carriedKey{}, j.carry)
	}
	j.h.ServeHTTP(w, r.WithContext(ctx))
}

func (prefetched) Abandon(context.Context) {}
