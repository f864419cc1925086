package resource

import (
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/idempotency"
	"scaleapi/shared/platform"
	"scaleapi/shared/ratelimit"
)

// NewGuards returns the guards every resource function runs: authn, then the per-user rate limit
// of perMinute requests a minute (shared, through Redis, with every other function), then
// Idempotency-Key records on POST.
func NewGuards(rdb redis.UniversalClient, authn Middleware, perMinute int, log *slog.Logger) (Guards, error) {
	limiter, err := ratelimit.New(rdb, perMinute, time.Minute, ratelimit.WithLogger(log))
	if err != nil {
		return Guards{}, err
	}
	return Guards{
		Authn:       authn,
		Limit:       limiter.Middleware(ratelimit.ByUser),
		Idempotency: idempotency.New(rdb, idempotency.WithLogger(log)).Middleware,
	}, nil
}

// Needs are the clients a resource function asks platform for, the ones Setup and the stores
// use: the primary, Redis (cache, memberships, rate limit, idempotency records) and token
// verification.
var Needs = platform.Needs{Database: true, Redis: true, Auth: true}

// Setup returns what a resource function's main wires its routes with, from the clients
// platform built: NewGuards with the configured rate limit, and the cache and its TTLs.
func Setup(d *platform.Deps) (Guards, Options, error) {
	g, err := NewGuards(d.Redis, d.Auth.Require, d.Config.RateLimitPerMinute, d.Log)
	return g, Options{Cache: d.Cache, TTL: d.Config.CacheTTL, ListTTL: d.Config.ListCacheTTL, Log: d.Log}, err
}
