package task

import (
	"net/http"

	"scaleapi/shared/api"
	"scaleapi/shared/resource"
	"scaleapi/shared/schema"
)

// Routes registers the tasks function's routes on rt: GET and POST /tasks, POST /tasks/bulk,
// GET, PATCH, PUT and DELETE /tasks/{id}, PATCH /tasks/{id}/recover and GET
// /projects/{id}/tasks.
func Routes(rt *api.Router, svc *Service, g resource.Guards) {
	resource.Mount[Task, Input, Input](rt, "/tasks", schema.Tasks, svc, g)
	rt.Handle("GET /projects/{id}/tasks", g.Wrap(projectTasks{svc}, false))
}

// projectTasks answers GET /projects/{id}/tasks: the project's tasks, with the list query
// syntax of GET /tasks.
type projectTasks struct{ svc *Service }

// ServeHTTP answers the list, 404 unless the caller may read the project.
func (h projectTasks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, project, err := resource.Target(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	ctx, q, err := resource.ListQuery(r, schema.Tasks)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	b, err := h.svc.ListProject(ctx, user, project, q)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	resource.WriteList(w, r, q, b)
}
