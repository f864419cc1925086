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

// Setup returns the guards a function's main wires the engine's routes with, from the clients
// platform built: NewGuards with the configured rate limit.
func Setup(d *platform.Deps) (Guards, error) {
	return NewGuards(d.Redis, d.Auth.Require, d.Config.RateLimitPerMinute, d.Log)
}
