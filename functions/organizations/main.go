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

func main() {
	platform.Main(platform.Needs{Database: true, Redis: true, Auth: true}, func(d *platform.Deps) (http.Handler, error) {
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
	})
}
