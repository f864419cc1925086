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

func main() { platform.Main(resource.Needs, handler) }

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
