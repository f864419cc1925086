// Package functions_test checks that the three descriptions of the API agree exactly: the routes
// template.yaml gives API Gateway, the paths of the OpenAPI document, and the routes each
// function's router serves. A route added to one and forgotten in another fails here.
package functions_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"scaleapi/cmd/local/samtemplate"
	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/health"
	"scaleapi/shared/openapi"
	"scaleapi/shared/organization"
	"scaleapi/shared/project"
	"scaleapi/shared/report"
	"scaleapi/shared/resource"
	"scaleapi/shared/task"
	"scaleapi/shared/user"
)

// routers builds each function's router the way its main does, with nil services: registering
// a route only records it.
func routers() map[string]*api.Router {
	authn := &auth.Authenticator{}
	pass := func(h http.Handler) http.Handler { return h }
	build := func(register func(r *api.Router)) *api.Router {
		r := api.NewRouter()
		register(r)
		return r
	}
	return map[string]*api.Router{
		"AuthFunction": build(func(r *api.Router) { user.Routes(r, nil, user.Guards{Authn: authn}) }),
		"OrganizationsFunction": build(func(r *api.Router) {
			organization.Routes(r, nil, organization.Guards{Authn: authn})
		}),
		"ProjectsFunction": build(func(r *api.Router) { project.Routes(r, nil, resource.Guards{Authn: pass}) }),
		"TasksFunction":    build(func(r *api.Router) { task.Routes(r, nil, resource.Guards{Authn: pass}) }),
		"ReportsFunction":  build(func(r *api.Router) { report.Routes(r, nil, pass) }),
		"HealthFunction":   build(func(r *api.Router) { health.Routes(r, nil) }),
	}
}

func route(method, path string) string { return strings.ToUpper(method) + " " + path }

func TestRoutesAgree(t *testing.T) {
	tpl, err := samtemplate.Parse("../template.yaml", samtemplate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fromTemplate := map[string]string{} // route -> function
	for _, f := range tpl.Functions {
		for _, e := range f.Events {
			if e.Kind != samtemplate.RESTAPI {
				t.Errorf("%s: event %s is %s; every route is a REST API (payload 1.0) event", f.LogicalID, e.Name, e.Kind)
			}
			r := route(e.Method, e.Path)
			if prev, dup := fromTemplate[r]; dup {
				t.Errorf("%s is routed to both %s and %s", r, prev, f.LogicalID)
			}
			fromTemplate[r] = f.LogicalID
		}
	}

	fromRouters := map[string]string{}
	rs := routers()
	for _, f := range tpl.Functions {
		if _, ok := rs[f.LogicalID]; !ok {
			t.Errorf("template function %s has no router in this test", f.LogicalID)
		}
	}
	for fn, r := range rs {
		for _, rt := range r.Routes() {
			fromRouters[route(rt.Method, rt.Path)] = fn
		}
	}

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapi.Document, &doc); err != nil {
		t.Fatal(err)
	}
	fromOpenAPI := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
				fromOpenAPI[route(method, path)] = true
			}
		}
	}

	for r, fn := range fromTemplate {
		if got, ok := fromRouters[r]; !ok {
			t.Errorf("template routes %s to %s, whose router does not serve it", r, fn)
		} else if got != fn {
			t.Errorf("template routes %s to %s, but %s's router serves it", r, fn, got)
		}
		if !fromOpenAPI[r] {
			t.Errorf("template routes %s, the OpenAPI document lacks it", r)
		}
	}
	for r, fn := range fromRouters {
		if _, ok := fromTemplate[r]; !ok {
			t.Errorf("%s's router serves %s, template.yaml does not route it", fn, r)
		}
	}
	for r := range fromOpenAPI {
		if _, ok := fromTemplate[r]; !ok {
			t.Errorf("the OpenAPI document has %s, template.yaml does not route it", r)
		}
	}
	if len(fromTemplate) == 0 || t.Failed() {
		return
	}
	all := make([]string, 0, len(fromTemplate))
	for r := range fromTemplate {
		all = append(all, r)
	}
	sort.Strings(all)
	t.Logf("%d routes agree: %s", len(all), fmt.Sprint(all))
}

// TestOpenAPIDocument checks the document's own consistency: every $ref resolves, every
// operation has an id, a summary and responses, and public routes are exactly the ones API.md
// marks public.
func TestOpenAPIDocument(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openapi.Document, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi version %v", doc["openapi"])
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if !resolves(doc, ref) {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
	public := map[string]bool{}
	ids := map[string]bool{}
	for path, ops := range doc["paths"].(map[string]any) {
		for method, o := range ops.(map[string]any) {
			op := o.(map[string]any)
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s %s: missing or duplicate operationId %q", method, path, id)
			}
			ids[id] = true
			if op["summary"] == nil || op["responses"] == nil {
				t.Errorf("%s %s: no summary or responses", method, path)
			}
			if sec, ok := op["security"].([]any); ok && len(sec) == 0 {
				public[route(method, path)] = true
			}
		}
	}
	want := map[string]bool{
		"POST /auth/register": true, "POST /auth/login": true, "POST /auth/refresh": true,
		"GET /health": true, "GET /openapi.json": true,
	}
	for r := range want {
		if !public[r] {
			t.Errorf("%s should be public", r)
		}
	}
	for r := range public {
		if !want[r] {
			t.Errorf("%s is public in the document but not in API.md", r)
		}
	}
}

func resolves(doc map[string]any, ref string) bool {
	if !strings.HasPrefix(ref, "#/") {
		return false
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
