// Command tasks is the Lambda function behind /tasks and GET /projects/{id}/tasks.
package main

import (
	"net/http"

	"scaleapi/shared/api"
	"scaleapi/shared/organization"
	"scaleapi/shared/platform"
	"scaleapi/shared/project"
	"scaleapi/shared/resource"
	"scaleapi/shared/task"
)

func main() { platform.Main(resource.Needs, handler) }

// handler builds the function's routes once per execution environment. The projects service
// is there for one question, which organization a project is in, answered from the same
// project:{id} cache entries the projects function fills.
func handler(d *platform.Deps) (http.Handler, error) {
	guards, opts, err := resource.Setup(d)
	if err != nil {
		return nil, err
	}
	members := organization.NewAccess(d.Primary, d.Cache)
	projects := project.NewService(project.NewPG(d.Primary), members, opts)
	r := api.NewRouter()
	task.Routes(r, task.NewService(task.NewPG(d.Primary), projects, members, opts), guards)
	return r, nil
}
