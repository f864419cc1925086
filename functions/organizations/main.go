// Command organizations is the Lambda function behind /organizations and its members.
package main

import (
	"net/http"

	"scaleapi/functions/internal/lambdamain"
	"scaleapi/shared/api"
	"scaleapi/shared/guard"
	"scaleapi/shared/organization"
	"scaleapi/shared/platform"
)

// needs are the clients this function uses: the primary (every route reads or writes it), Redis
// (cache, rate limit, idempotency records) and token verification.
var needs = platform.Needs{Database: true, Redis: true, Auth: true}

func main() { lambdamain.Run(needs, handler) }

// handler builds the function's routes on the clients platform made, once per execution
// environment.
func handler(d *platform.Deps) (http.Handler, error) {
	guards, err := guard.Setup(d)
	if err != nil {
		return nil, err
	}
	r := api.NewRouter()
	organization.Routes(r, organization.NewService(d.Primary, d.Cache, d.Log), guards)
	return r, nil
}
