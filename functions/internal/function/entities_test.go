package function_test

import (
	"net/http"
	"strings"
	"testing"

	"scaleapi/functions/internal/function"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	rt "scaleapi/shared/resource/resourcetest"
)

// TestEntities builds the function exactly as main does, from environment variables and the
// embedded .apsorc, and drives every route of projects and tasks with API Gateway REST
// (payload 1.0) events through the Lambda adapter.
func TestEntities(t *testing.T) {
	var routes []api.Route
	for _, base := range []string{"/projects", "/tasks"} {
		routes = append(routes, api.Route{Method: "GET", Path: base}, api.Route{Method: "POST", Path: base},
			api.Route{Method: "POST", Path: base + "/bulk"}, api.Route{Method: "DELETE", Path: base + "/{id}"},
			api.Route{Method: "GET", Path: base + "/{id}"}, api.Route{Method: "PATCH", Path: base + "/{id}"},
			api.Route{Method: "PUT", Path: base + "/{id}"}, api.Route{Method: "PATCH", Path: base + "/{id}/recover"})
		if base == "/projects" {
			routes = append(routes, api.Route{Method: "GET", Path: "/projects/{id}/tasks"})
		}
	}
	e, invoke := rt.Function(t, function.Entities.Needs, function.Entities.Build, routes)
	alice := e.User(t, "Alice")
	org := e.Org(t, alice)

	created := invoke(alice, "POST", "/projects", `{"organizationId":"`+org.String()+`","name":"Apollo"}`)
	project := rt.ResponseHeader(created, "Location")
	if created.StatusCode != http.StatusCreated || !strings.HasPrefix(project, "/projects/") || rt.ResponseHeader(created, "ETag") != `"1"` {
		t.Fatalf("POST /projects: %d %v %s", created.StatusCode, created.MultiValueHeaders, created.Body)
	}
	pid := strings.TrimPrefix(project, "/projects/")
	created = invoke(alice, "POST", "/tasks", `{"projectId":"`+pid+`","title":"Launch","dueDate":"2030-01-02"}`)
	task := rt.ResponseHeader(created, "Location")
	if created.StatusCode != http.StatusCreated || !strings.HasPrefix(task, "/tasks/") {
		t.Fatalf("POST /tasks: %d %v %s", created.StatusCode, created.MultiValueHeaders, created.Body)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", project, "", 200},
		{"GET", project + "?join=organization", "", 200},
		{"GET", "/projects?filter=name||$eq||Apollo&sort=createdAt,DESC", "", 200},
		{"PATCH", project, `{"status":"active"}`, 200},
		{"PUT", project, `{"name":"Artemis"}`, 200},
		{"POST", "/projects/bulk", `{"bulk":[{"organizationId":"` + org.String() + `","name":"Gemini"}]}`, 201},
		{"GET", "/projects/not-a-uuid", "", 400},
		{"GET", task, "", 200},
		{"GET", task + "?join=project", "", 200},
		{"GET", "/tasks?filter=dueDate||$lt||2031-01-01", "", 200},
		{"GET", project + "/tasks?sort=title,ASC", "", 200},
		{"GET", "/projects/" + uuid.NewString() + "/tasks", "", 404},
		{"PATCH", task, `{"status":"done"}`, 200},
		{"PUT", task, `{"title":"Land"}`, 200},
		{"POST", "/tasks/bulk", `{"bulk":[{"projectId":"` + pid + `","title":"Orbit"}]}`, 201},
		{"DELETE", task, "", 204},
		{"PATCH", task + "/recover", "", 200},
		{"DELETE", project, "", 204},
		{"GET", task, "", 404},
		{"PATCH", project + "/recover", "", 200},
		{"GET", task, "", 200},
	} {
		if r := invoke(alice, c.method, c.path, c.body); r.StatusCode != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, r.StatusCode, r.Body, c.status)
		}
	}
	if r := invoke(rt.User{}, "GET", project, ""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", r.StatusCode)
	}
}
