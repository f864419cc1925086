// Command reports is the Lambda function behind the reporting routes, which read the replica.
package main

import (
	"net/http"

	"scaleapi/functions/internal/lambdamain"
	"scaleapi/shared/api"
	"scaleapi/shared/guard"
	"scaleapi/shared/organization"
	"scaleapi/shared/platform"
	"scaleapi/shared/report"
)

var needs = platform.Needs{Database: true, Replica: true, Redis: true, Auth: true}

func main() { lambdamain.Run(needs, handler) }

func handler(d *platform.Deps) (http.Handler, error) {
	guards, err := guard.Setup(d)
	if err != nil {
		return nil, err
	}
	// Membership is read from the primary: a member added a moment ago must see the report at
	// once, and the check is one cached lookup either way.
	access := organization.NewAccess(d.Primary, d.Cache)
	svc := report.NewService(report.NewStore(d.Replica), access, d.Cache, d.Config.ListCacheTTL)
	r := api.NewRouter()
	report.Routes(r, svc, guards)
	return r, nil
}
