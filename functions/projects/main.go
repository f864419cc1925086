// Command projects is the Lambda function behind /projects.
package main

import (
	"net/http"

	"scaleapi/shared/api"
	"scaleapi/shared/organization"
	"scaleapi/shared/platform"
	"scaleapi/shared/project"
	"scaleapi/shared/resource"
)

// needs are the clients this function uses: the primary, Redis (cache, memberships, rate
// limit, idempotency records) and token verification.
var needs = platform.Needs{Database: true, Redis: true, Auth: true}

func main() { platform.Main(needs, handler) }

// handler builds the function's routes on the clients platform made, once per execution
// environment.
func handler(d *platform.Deps) (http.Handler, error) {
	guards, opts, err := resource.Setup(d)
	if err != nil {
		return nil, err
	}
	r := api.NewRouter()
	project.Routes(r, project.NewService(project.NewPG(d.Primary), organization.NewAccess(d.Primary, d.Cache), opts), guards)
	return r, nil
}
