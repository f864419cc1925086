package guard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestPrefetchingCarries: what a request's Reads carry reaches its handler's context, on top of
// the context the chain hands Serve (not the one Reads saw), and a request without a carry has
// none.
func TestPrefetchingCarries(t *testing.T) {
	type parsed struct{ q string }
	type chainKey struct{}
	var got, chain any
	h := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got, chain = Carried(r.Context()), r.Context().Value(chainKey{})
	})
	reads := func(r *http.Request) ([]string, []string, any, bool) {
		if q := r.URL.Query().Get("q"); q != "" {
			return nil, nil, &parsed{q}, true
		}
		return nil, nil, nil, true
	}
	p := Prefetching(nil, reads, h).(prefetching) // no cache: nothing is queued, the carry still goes through

	for _, tc := range []struct {
		target string
		want   string
	}{{"/projects?q=a", "a"}, {"/projects", ""}} {
		got, chain = nil, nil
		r := httptest.NewRequest(http.MethodGet, tc.target, nil)
		j := p.JoinSessionCheck(nil, nil, r)
		if j == nil {
			t.Fatalf("%s: no Joined", tc.target)
		}
		// What the middleware between the session check and the handler added (the rate
		// limiter's Joined, say) must reach the handler too.
		j.Serve(httptest.NewRecorder(), r.WithContext(context.WithValue(r.Context(), chainKey{}, "chain")))
		if chain != "chain" {
			t.Errorf("%s: the handler lost the context Serve was given", tc.target)
		}
		switch v := got.(type) {
		case *parsed:
			if v.q != tc.want {
				t.Errorf("%s: carried %q, want %q", tc.target, v.q, tc.want)
			}
		case nil:
			if tc.want != "" {
				t.Errorf("%s: nothing carried, want %q", tc.target, tc.want)
			}
		default:
			t.Errorf("%s: carried %T", tc.target, got)
		}
	}
}
