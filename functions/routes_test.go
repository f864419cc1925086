// Package functions_test checks that the three descriptions of the API agree exactly: the routes
// template.yaml gives API Gateway, the paths of the OpenAPI document, and the routes each
// function's router serves. A route added to one and forgotten in another fails here.
package functions_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"scaleapi"
	"scaleapi/internal/samtemplate"
	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/domain"
	"scaleapi/shared/guard"
	"scaleapi/shared/health"
	"scaleapi/shared/openapi"
	"scaleapi/shared/organization"
	"scaleapi/shared/report"
	"scaleapi/shared/resource"
	"scaleapi/shared/user"
)

// routers builds each function's router the way its main does, with nil services: registering
// a route only records it.
func routers() map[string]*api.Router {
	// The guards only wrap: nothing is served.
	g := guard.Guards{Authn: func(h http.Handler) http.Handler { return h }}
	build := func(register func(r *api.Router)) *api.Router {
		r := api.NewRouter()
		register(r)
		return r
	}
	return map[string]*api.Router{
		"AuthFunction":          build(func(r *api.Router) { user.Routes(r, nil, g) }),
		"OrganizationsFunction": build(func(r *api.Router) { organization.Routes(r, nil, g) }),
		"EntitiesFunction":      build(func(r *api.Router) { rootEngine().Mount(r, g) }),
		"ReportsFunction":       build(func(r *api.Router) { report.Routes(r, nil, g) }),
		"HealthFunction":        build(func(r *api.Router) { health.Routes(r, nil) }),
	}
}

// rootEngine is the engine over the root .apsorc, with no clients: enough to mount its routes
// and read its allow-lists.
func rootEngine() *resource.Engine {
	s, err := apsorc.Parse(scaleapi.Schema)
	if err != nil {
		panic(err)
	}
	eng, err := resource.NewEngine(s, resource.EngineDeps{}, domain.Hooks())
	if err != nil {
		panic(err)
	}
	return eng
}

func route(method, path string) string { return strings.ToUpper(method) + " " + path }

func TestRoutesAgree(t *testing.T) {
	tpl, err := samtemplate.Parse("../template.yaml", samtemplate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fromTemplate := map[string]string{} // route -> function, ANY events aside
	anyEvents := map[string]string{}    // path -> function of its ANY event
	for _, f := range tpl.Functions {
		for _, e := range f.Events {
			if e.Kind != samtemplate.RESTAPI {
				t.Errorf("%s: event %s is %s; every route is a REST API (payload 1.0) event", f.LogicalID, e.Name, e.Kind)
			}
			if e.Method == "ANY" {
				if prev, dup := anyEvents[e.Path]; dup {
					t.Errorf("ANY %s is routed to both %s and %s", e.Path, prev, f.LogicalID)
				}
				anyEvents[e.Path] = f.LogicalID
				continue
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
	checkAnyEvents(t, fromTemplate, anyEvents, rs)
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

// checkAnyEvents checks the 405 design (template.yaml's AuthFunction comment): every path of
// the template has exactly one ANY event, to the function that serves the path's methods (so
// every method of a path reaches one function), and no ANY event names a path without
// methods. Then, for every path, each method it lacks reaches its owner's router through ANY
// and is answered 405 problem+json whose Allow lists exactly the path's methods: what API
// Gateway and cmd/local's gateway answer for it.
func checkAnyEvents(t *testing.T, fromTemplate, anyEvents map[string]string, rs map[string]*api.Router) {
	t.Helper()
	owners := map[string]string{} // path -> the function serving its methods
	methods := map[string][]string{}
	for r, fn := range fromTemplate {
		method, path, _ := strings.Cut(r, " ")
		if prev, ok := owners[path]; ok && prev != fn {
			t.Errorf("%s is served by both %s and %s: an ANY event could reach only one", path, prev, fn)
		}
		owners[path] = fn
		methods[path] = append(methods[path], method)
	}
	for path, fn := range owners {
		switch got, ok := anyEvents[path]; {
		case !ok:
			t.Errorf("%s has no ANY event: a method it lacks would get API Gateway's 403, not a 405", path)
		case got != fn:
			t.Errorf("ANY %s is routed to %s, but %s serves the path", path, got, fn)
		}
	}
	for path, fn := range anyEvents {
		if _, ok := owners[path]; !ok {
			t.Errorf("ANY %s (%s) names a path with no declared method", path, fn)
		}
	}
	if t.Failed() {
		return
	}
	// Path parameters become a UUID, as the document declares them.
	sample := strings.NewReplacer("{id}", "3b241101-e2bb-4255-8caf-4136c566a962", "{userId}", "5f8a2b8c-1d7e-4f0a-9c3b-2e6d4a7b8c9d")
	for path, ms := range methods {
		allow := append([]string(nil), ms...)
		if slices.Contains(allow, "GET") {
			allow = append(allow, "HEAD") // net/http serves HEAD with GET
		}
		sort.Strings(allow)
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"} {
			if slices.Contains(allow, m) {
				continue
			}
			w := httptest.NewRecorder()
			rs[owners[path]].ServeHTTP(w, httptest.NewRequest(m, sample.Replace(path), nil))
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %s: %d %s, want a 405 problem", m, path, w.Code, w.Header().Get("Content-Type"))
				continue
			}
			if got, want := w.Header().Get("Allow"), strings.Join(allow, ", "); got != want {
				t.Errorf("%s %s: Allow %q, want %q", m, path, got, want)
			}
		}
	}
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
			sec, ok := op["security"].([]any)
			if ok && len(sec) == 0 {
				public[route(method, path)] = true
			}
			checkStatuses(t, route(method, path), op, ok && len(sec) == 0)
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

// checkStatuses checks that an operation declares the statuses every route of its kind can
// answer (API.md's errors): 401, 429 and 503 behind authentication; 400, 413, 415 and 422 with
// a body; 400, 409, 422 and 503 with an Idempotency-Key (an invalid key, one in flight, one reused
// with another body, the store down); 404 with a path parameter; and that its errors are
// problem+json.
func checkStatuses(t *testing.T, r string, op map[string]any, public bool) {
	t.Helper()
	responses, _ := op["responses"].(map[string]any)
	need := []string{}
	if !public {
		need = append(need, "401", "429", "503")
	}
	if op["requestBody"] != nil {
		need = append(need, "400", "413", "415", "422")
	}
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		p, _ := p.(map[string]any)
		if p["$ref"] == "#/components/parameters/IdempotencyKey" {
			need = append(need, "400", "409", "422", "503")
		}
		if p["in"] == "path" {
			need = append(need, "404")
		}
	}
	for _, code := range need {
		if _, ok := responses[code]; !ok {
			t.Errorf("%s: no %s response", r, code)
		}
	}
	for code, resp := range responses {
		ref, _ := resp.(map[string]any)["$ref"].(string)
		if code >= "400" && r != "GET /health" && !strings.HasPrefix(ref, "#/components/responses/") {
			t.Errorf("%s: %s is not one of components.responses (the problem+json answers)", r, code)
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
