// Package guard is the one chain of guards every function puts around its routes: authentication
// (shared/auth), the rate limit (shared/ratelimit) and Idempotency-Key records on POST
// (shared/idempotency). A function's main builds it with Setup; a package's Routes (or the
// resource engine's Mount) wraps each route with Wrap, or Public for the routes that need no
// authentication. Conditional requests (ETags, If-Match, If-None-Match) are not a guard: they
// depend on the representation, so the handlers check them (shared/resource's etag.go).
//
// # Order
//
// An authenticated route runs Authn, then Limit, then Idempotency, then the handler:
//
//   - Limit is the per-user limit, so it runs after Authn, which puts the user in the context.
//     It runs directly behind Authn because the limiter's middleware is an auth.Joiner: its GCRA
//     script travels in the session check's round trip.
//   - Idempotency runs innermost, so that a request refused by authentication or the rate limit
//     never claims a key, and a key is scoped to the user who sent it.
//
// A public route (register, login, refresh) runs PublicLimit, the per-IP limit, then Idempotency,
// whose records are then scoped to the source IP. One limiter serves both key spaces, so a user's
// allowance is the same in every function and an IP's is the same on every public route.
package guard

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/idempotency"
	"scaleapi/shared/platform"
	"scaleapi/shared/ratelimit"
)

// Middleware wraps a handler.
type Middleware = func(http.Handler) http.Handler

// Guards are the middleware of every route. New (and Setup) fill in all of them; a test may
// leave the optional ones out.
type Guards struct {
	// Authn authenticates a request (auth.Authenticator.Require). Required by Wrap.
	Authn Middleware
	// Limit is the per-user rate limit. Optional.
	Limit Middleware
	// PublicLimit is the per-IP rate limit of the public routes. Optional.
	PublicLimit Middleware
	// Idempotency replays a POST's answer for a repeated Idempotency-Key. Optional.
	Idempotency Middleware
}

// Wrap returns h, an authenticated route, behind Authn and Limit, and, when post, Idempotency.
// It panics without Authn: a route mounted without authentication must not serve.
func (g Guards) Wrap(h http.Handler, post bool) http.Handler {
	if g.Authn == nil {
		panic("guard: Guards.Authn is required")
	}
	if post {
		h = apply(g.Idempotency, h)
	}
	return g.Authn(apply(g.Limit, h))
}

// Public returns h, a route that needs no authentication, behind PublicLimit and Idempotency.
// Every public route is a POST (register, login, refresh), so Idempotency always applies.
func (g Guards) Public(h http.Handler) http.Handler {
	return apply(g.PublicLimit, apply(g.Idempotency, h))
}

// apply returns h behind m, or h when m is nil.
func apply(m Middleware, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return m(h)
}

// Option configures New.
type Option func(*options)

type options struct {
	replayTTL time.Duration
}

// WithReplayTTL sets how long a POST's answer stays replayable under its Idempotency-Key
// (idempotency.DefaultTTL otherwise). The auth function's answers carry tokens, so it keeps
// them for a client's retries only.
func WithReplayTTL(d time.Duration) Option { return func(o *options) { o.replayTTL = d } }

// New returns the guards over rdb (the guards' Redis client, which waits REDIS_GUARD_TIMEOUT):
// authn, one limiter of perMinute requests a minute per user and per source IP (shared, through
// Redis, with every other function), and Idempotency-Key records. log may be nil
// (slog.Default()).
func New(rdb redis.UniversalClient, authn Middleware, perMinute int, log *slog.Logger, opts ...Option) (Guards, error) {
	o := options{replayTTL: idempotency.DefaultTTL}
	for _, opt := range opts {
		opt(&o)
	}
	if log == nil {
		log = slog.Default()
	}
	limiter, err := ratelimit.New(rdb, perMinute, time.Minute, ratelimit.WithLogger(log))
	if err != nil {
		return Guards{}, err
	}
	return Guards{
		Authn:       authn,
		Limit:       limiter.Middleware(ratelimit.ByUser),
		PublicLimit: limiter.Middleware(ratelimit.ByIP),
		Idempotency: idempotency.New(rdb, idempotency.WithTTL(o.replayTTL), idempotency.WithLogger(log)).Middleware,
	}, nil
}

// Setup returns the guards a function's main wires its routes with, from the clients platform
// built (Needs.Auth): New with the configured rate limit (RATE_LIMIT_PER_MINUTE).
func Setup(d *platform.Deps, opts ...Option) (Guards, error) {
	return New(d.Redis, d.Auth.Require, d.Config.RateLimitPerMinute, d.Log, opts...)
}
