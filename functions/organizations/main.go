// Command organizations is the Lambda function behind /organizations and its members.
package main

import (
	"net/http"
	"time"

	"scaleapi/shared/api"
	"scaleapi/shared/idempotency"
	"scaleapi/shared/organization"
	"scaleapi/shared/platform"
	"scaleapi/shared/ratelimit"
)

// needs are the clients this function uses: the primary (every route reads or writes it), Redis
// (cache, rate limit, idempotency records) and token verification.
var needs = platform.Needs{Database: true, Redis: true, Auth: true}

func main() { platform.Main(needs, handler) }

// handler builds the function's routes on the clients platform made, once per execution
// environment.
func handler(d *platform.Deps) (http.Handler, error) {
	limiter, err := ratelimit.New(d.Redis, d.Config.RateLimitPerMinute, time.Minute, ratelimit.WithLogger(d.Log))
	if err != nil {
		return nil, err
	}
	r := api.NewRouter()
	organization.Routes(r, organization.NewService(d.Primary, d.Cache, d.Log), organization.Guards{
		Authn:       d.Auth,
		Limit:       limiter.Middleware(ratelimit.ByUser),
		Idempotency: idempotency.New(d.Redis, idempotency.WithLogger(d.Log)).Middleware,
	})
	return r, nil
}
