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

// needs are the clients this function uses: the primary, Redis (cache, memberships, rate
// limit, idempotency records) and token verification.
var needs = platform.Needs{Database: true, Redis: true, Auth: true}

func main() { platform.Main(needs, handler) }

// handler builds the function's routes on the clients platform made, once per execution
// environment. The projects service is there for one question, which organization a project
// is in, answered from the same project:{id} cache entries the projects function fills.
func handler(d *platform.Deps) (http.Handler, error) {
	guards, err := resource.NewGuards(d.Redis, d.Auth.Require, d.Config.RateLimitPerMinute, d.Log)
	if err != nil {
		return nil, err
	}
	opts := resource.Options{Cache: d.Cache, TTL: d.Config.CacheTTL, ListTTL: d.Config.ListCacheTTL, Log: d.Log}
	members := organization.NewAccess(d.Primary, d.Cache)
	projects := project.NewService(project.NewPG(d.Primary), members, opts)
	svc := task.NewService(task.NewPG(d.Primary), projects, members, opts)
	r := api.NewRouter()
	task.Routes(r, svc, guards)
	return r, nil
}
