// Command health is the Lambda function behind GET /health and GET /openapi.json, both public.
package main

import (
	"context"
	"net/http"

	"scaleapi/functions/internal/lambdamain"
	"scaleapi/shared/api"
	"scaleapi/shared/health"
	"scaleapi/shared/platform"
)

// needs: health probes the primary, the replica and Redis; it verifies no tokens.
var needs = platform.Needs{Database: true, Replica: true, Redis: true}

func main() { lambdamain.Run(needs, handler) }

func handler(d *platform.Deps) (http.Handler, error) {
	r := api.NewRouter()
	health.Routes(r, health.New(map[string]health.Check{
		"database": func(ctx context.Context) error { return d.Primary.Ping(ctx) },
		"replica":  func(ctx context.Context) error { return d.Replica.Ping(ctx) },
		"cache":    func(ctx context.Context) error { return d.Redis.Ping(ctx).Err() },
	}))
	return r, nil
}
