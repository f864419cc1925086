// Command auth is the Lambda function behind /auth: register, login, refresh (public), logout
// and me.
package main

import (
	"net/http"
	"time"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/idempotency"
	"scaleapi/shared/platform"
	"scaleapi/shared/ratelimit"
	"scaleapi/shared/user"
)

// authReplayTTL is how long an auth answer stays replayable under its Idempotency-Key.
const authReplayTTL = 10 * time.Minute

var needs = platform.Needs{Database: true, Redis: true, Auth: true}

func main() { platform.Main(needs, handler) }

func handler(d *platform.Deps) (http.Handler, error) {
	// One limiter, two key spaces: per source IP on the public routes, per user (shared
	// with every other function's per-user allowance) after authentication.
	limiter, err := ratelimit.New(d.Redis, d.Config.RateLimitPerMinute, time.Minute, ratelimit.WithLogger(d.Log))
	if err != nil {
		return nil, err
	}
	passwords, err := auth.NewPasswords(auth.DefaultParams)
	if err != nil {
		return nil, err
	}
	svc := user.NewService(user.NewPG(d.Primary), passwords, d.Tokens, d.Sessions, d.Log)
	// These answers carry tokens, kept in Redis in the clear while they can be replayed, so
	// they are kept long enough for a client's retries, not the 24 h of other routes.
	idem := idempotency.New(d.Redis, idempotency.WithTTL(authReplayTTL), idempotency.WithLogger(d.Log))
	r := api.NewRouter()
	user.Routes(r, svc, user.Guards{
		Authn:       d.Auth,
		Public:      limiter.Middleware(ratelimit.ByIP),
		Private:     limiter.Middleware(ratelimit.ByUser),
		Idempotency: idem.Middleware,
	})
	return r, nil
}
