package domain_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	rt "scaleapi/shared/resource/resourcetest"
)

// BenchmarkGetProjectCached is the hot path as a projects function serves it: Bearer token
// verification and the session check, the per-user rate limit, the cached memberships, the cached
// project and its JSON, against the harness's real Redis (and PostgreSQL for the first fill
// only). One request at a time, as one Lambda environment serves them.
func BenchmarkGetProjectCached(b *testing.B) {
	app := rt.NewApp(b)
	alice := app.User(b, "Alice")
	org := app.Org(b, alice)
	path := "/projects/" + app.Project(b, alice, org, "Apollo").String()
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("Authorization", "Bearer "+alice.Token)
	serve := func() {
		w := httptest.NewRecorder()
		app.Handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	serve() // fill
	before := app.Queries()
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
	if n := app.Queries() - before; n != 0 {
		b.Fatalf("the cached path ran %d statements", n)
	}
}
