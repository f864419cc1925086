package guard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// recording returns guards whose middleware each append their name to *trace before calling on.
func recording(trace *[]string) Guards {
	named := func(name string) Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				*trace = append(*trace, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	return Guards{Authn: named("authn"), Limit: named("limit"), PublicLimit: named("public"), Idempotency: named("idempotency")}
}

func TestOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(Guards, http.Handler) http.Handler
		want string
	}{
		{"authenticated", func(g Guards, h http.Handler) http.Handler { return g.Wrap(h, false) }, "authn limit handler"},
		{"authenticated POST", func(g Guards, h http.Handler) http.Handler { return g.Wrap(h, true) }, "authn limit idempotency handler"},
		{"public", Guards.Public, "public idempotency handler"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var trace []string
			h := tc.wrap(recording(&trace), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { trace = append(trace, "handler") }))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
			if got := strings.Join(trace, " "); got != tc.want {
				t.Errorf("ran %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOptionalGuards(t *testing.T) {
	var trace []string
	g := recording(&trace)
	g = Guards{Authn: g.Authn}
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { trace = append(trace, "handler") })
	g.Wrap(h, true).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
	g.Public(h).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
	if got := strings.Join(trace, " "); got != "authn handler handler" {
		t.Errorf("ran %q", got)
	}
}

func TestWrapWithoutAuthnPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Wrap without Authn mounted a route")
		}
	}()
	Guards{}.Wrap(http.NotFoundHandler(), false)
}
