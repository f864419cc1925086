package main

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"scaleapi/shared/api"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/resource"
	rt "scaleapi/shared/resource/resourcetest"
)

// TestMain starts the real stack: PostgreSQL behind PgBouncer, and Redis.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

// TestFunction builds the function exactly as main does, from environment variables, and drives
// every route with API Gateway REST (payload 1.0) events through the Lambda adapter.
func TestFunction(t *testing.T) {
	e, invoke := rt.Function(t, resource.Needs, handler, []api.Route{
		{Method: "GET", Path: "/projects"}, {Method: "POST", Path: "/projects"}, {Method: "POST", Path: "/projects/bulk"},
		{Method: "DELETE", Path: "/projects/{id}"}, {Method: "GET", Path: "/projects/{id}"},
		{Method: "PATCH", Path: "/projects/{id}"}, {Method: "PUT", Path: "/projects/{id}"},
		{Method: "PATCH", Path: "/projects/{id}/recover"},
	})
	alice := e.User(t, "Alice")
	org := e.Org(t, alice)

	created := invoke(alice, "POST", "/projects", `{"organizationId":"`+org.String()+`","name":"Apollo"}`)
	path := rt.ResponseHeader(created, "Location")
	if created.StatusCode != http.StatusCreated || !strings.HasPrefix(path, "/projects/") || rt.ResponseHeader(created, "ETag") != `"1"` {
		t.Fatalf("POST: %d %v %s", created.StatusCode, created.MultiValueHeaders, created.Body)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", path, "", 200},
		{"GET", path + "?join=organization", "", 200},
		{"GET", "/projects?filter=name||$eq||Apollo&sort=createdAt,DESC", "", 200},
		{"PATCH", path, `{"status":"active"}`, 200},
		{"PUT", path, `{"name":"Artemis"}`, 200},
		{"POST", "/projects/bulk", `{"bulk":[{"organizationId":"` + org.String() + `","name":"Gemini"}]}`, 201},
		{"DELETE", path, "", 204},
		{"PATCH", path + "/recover", "", 200},
		{"GET", "/projects/not-a-uuid", "", 400},
	} {
		if r := invoke(alice, c.method, c.path, c.body); r.StatusCode != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, r.StatusCode, r.Body, c.status)
		}
	}
	if r := invoke(rt.User{}, "GET", path, ""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", r.StatusCode)
	}
}
