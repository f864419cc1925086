package gateway

import (
	"testing"

	"scaleapi/internal/samtemplate"
)

// TestTemplateRoutesUndeclaredMethods routes the project's template.yaml and checks where a
// method a path does not declare goes. Every path has an ANY event to the function that owns
// it (see the template's comment), so such a method reaches that function, whose router
// answers 405 with Allow; a declared method still goes to its own route, not to ANY. Without
// the ANY events the same requests would get API Gateway's 403 (DELETE /projects) or, worse,
// reach another path's route (PUT /projects/bulk matching PUT /projects/{id}).
func TestTemplateRoutesUndeclaredMethods(t *testing.T) {
	tpl, err := samtemplate.Parse("../../../template.yaml", samtemplate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	route := func(withAny bool) *router {
		var rt router
		for _, fn := range tpl.Functions {
			for _, ev := range fn.Events {
				if ev.Method == "ANY" && !withAny {
					continue
				}
				if _, err := rt.add(&Route{Method: ev.Method, Path: ev.Path, Function: fn.LogicalID, Kind: ev.Kind}); err != nil {
					t.Fatal(err)
				}
			}
		}
		return &rt
	}
	const id = "3b241101-e2bb-4255-8caf-4136c566a962"
	rt := route(true)
	for _, tc := range []struct {
		method, path, function, routeMethod string
	}{
		{"PUT", "/projects/bulk", "EntitiesFunction", "ANY"},
		{"GET", "/projects/bulk", "EntitiesFunction", "ANY"},
		{"POST", "/projects/bulk", "EntitiesFunction", "POST"},
		{"DELETE", "/projects", "EntitiesFunction", "ANY"},
		{"GET", "/projects/" + id, "EntitiesFunction", "GET"},
		{"POST", "/projects/" + id, "EntitiesFunction", "ANY"},
		{"POST", "/projects/" + id + "/tasks", "EntitiesFunction", "ANY"},
		{"GET", "/projects/" + id + "/tasks", "EntitiesFunction", "GET"},
		{"DELETE", "/tasks/bulk", "EntitiesFunction", "ANY"},
		{"TRACE", "/health", "HealthFunction", "ANY"},
		{"OPTIONS", "/auth/me", "AuthFunction", "ANY"},
		{"PUT", "/organizations/" + id + "/members/" + id, "OrganizationsFunction", "ANY"},
		{"POST", "/reports/organizations/" + id + "/summary", "ReportsFunction", "ANY"},
	} {
		r, _ := rt.match(tc.method, tc.path)
		if r == nil || r.Function != tc.function || r.Method != tc.routeMethod {
			t.Errorf("%s %s: routed to %+v, want %s %s", tc.method, tc.path, r, tc.function, tc.routeMethod)
		}
	}
	// A path the template does not have at all is still API Gateway's 403.
	if r, _ := rt.match("GET", "/projects/"+id+"/nope"); r != nil {
		t.Errorf("GET /projects/{id}/nope: routed to %+v, want no route", r)
	}

	without := route(false)
	if r, _ := without.match("DELETE", "/projects"); r != nil {
		t.Errorf("without ANY, DELETE /projects: routed to %+v, want no route (403)", r)
	}
	if r, _ := without.match("PUT", "/projects/bulk"); r == nil || r.Path != "/projects/{id}" {
		t.Errorf("without ANY, PUT /projects/bulk: routed to %+v, want PUT /projects/{id}", r)
	}
}
