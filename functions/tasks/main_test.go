package main

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/project"
	"scaleapi/shared/resource"
	rt "scaleapi/shared/resource/resourcetest"
)

// TestMain starts the real stack: PostgreSQL behind PgBouncer, and Redis.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

// TestFunction builds the function exactly as main does and drives every route through the
// Lambda adapter, GET /projects/{id}/tasks included.
func TestFunction(t *testing.T) {
	e, invoke := rt.Function(t, resource.Needs, handler, []api.Route{
		{Method: "GET", Path: "/projects/{id}/tasks"},
		{Method: "GET", Path: "/tasks"}, {Method: "POST", Path: "/tasks"}, {Method: "POST", Path: "/tasks/bulk"},
		{Method: "DELETE", Path: "/tasks/{id}"}, {Method: "GET", Path: "/tasks/{id}"},
		{Method: "PATCH", Path: "/tasks/{id}"}, {Method: "PUT", Path: "/tasks/{id}"},
		{Method: "PATCH", Path: "/tasks/{id}/recover"},
	})
	alice := e.User(t, "Alice")
	org := e.Org(t, alice)
	// The project is made the way the projects function makes it.
	p, err := project.NewService(project.NewPG(e.DB), e.Members, resource.Options{Cache: e.Cache}).
		Create(t.Context(), alice.ID, project.Input{OrganizationID: org.String(), Fields: project.Fields{Name: "Apollo"}})
	if err != nil {
		t.Fatal(err)
	}

	created := invoke(alice, "POST", "/tasks", `{"projectId":"`+p.ID.String()+`","title":"Launch","dueDate":"2030-01-02"}`)
	path := rt.ResponseHeader(created, "Location")
	if created.StatusCode != http.StatusCreated || !strings.HasPrefix(path, "/tasks/") {
		t.Fatalf("POST: %d %v %s", created.StatusCode, created.MultiValueHeaders, created.Body)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", path, "", 200},
		{"GET", path + "?join=project", "", 200},
		{"GET", "/tasks?filter=dueDate||$lt||2031-01-01", "", 200},
		{"GET", "/projects/" + p.ID.String() + "/tasks?sort=title,ASC", "", 200},
		{"GET", "/projects/" + uuid.NewString() + "/tasks", "", 404},
		{"PATCH", path, `{"status":"done"}`, 200},
		{"PUT", path, `{"title":"Land"}`, 200},
		{"POST", "/tasks/bulk", `{"bulk":[{"projectId":"` + p.ID.String() + `","title":"Orbit"}]}`, 201},
		{"DELETE", path, "", 204},
		{"PATCH", path + "/recover", "", 200},
	} {
		if r := invoke(alice, c.method, c.path, c.body); r.StatusCode != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, r.StatusCode, r.Body, c.status)
		}
	}
}
