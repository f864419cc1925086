package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRouterMethodNotAllowed: a method a path lacks is a 405 problem with Allow listing the
// path's methods, whether the mux knows no pattern for the method (DELETE /things) or another
// path's wildcard would capture the request (PUT /things/bulk matches PUT /things/{id}).
func TestRouterMethodNotAllowed(t *testing.T) {
	rt := NewRouter()
	ok := func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, map[string]string{"route": r.Pattern}) }
	for _, p := range []string{
		"GET /things", "POST /things", "POST /things/bulk", "GET /things/{id}", "PUT /things/{id}",
		"DELETE /things/{id}", "PATCH /things/{id}/recover", "GET /owners/{id}/things", "GET /owners/{id}/things/{thing}",
		"GET /owners/{id}/things/export",
	} {
		rt.HandleFunc(p, ok)
	}
	cases := []struct {
		method, path string
		status       int
		allow        string // for a 405; the route that answered for a 200
	}{
		{"GET", "/things/1", 200, "GET /things/{id}"},
		{"PUT", "/things/1", 200, "PUT /things/{id}"},
		{"POST", "/things/bulk", 200, "POST /things/bulk"},
		{"GET", "/owners/1/things/export", 200, "GET /owners/{id}/things/export"},
		{"GET", "/owners/1/things/2", 200, "GET /owners/{id}/things/{thing}"},
		{"HEAD", "/things/1", 200, "GET /things/{id}"},
		// Another path's wildcard captures these; the literal path owns them.
		{"PUT", "/things/bulk", 405, "POST"},
		{"GET", "/things/bulk", 405, "POST"},
		{"HEAD", "/things/bulk", 405, "POST"},
		{"DELETE", "/things/bulk", 405, "POST"},
		{"POST", "/owners/1/things/export", 405, "GET, HEAD"},
		// No pattern for the method at all: the mux's own 405.
		{"DELETE", "/things", 405, "GET, HEAD, POST"},
		{"POST", "/things/1", 405, "DELETE, GET, HEAD, PUT"},
		{"TRACE", "/things/1/recover", 405, "PATCH"},
		{"OPTIONS", "/owners/1/things", 405, "GET, HEAD"},
		// The mux would list /things/{id}'s methods too: every pattern that matches the path.
		{"OPTIONS", "/things/bulk", 405, "POST"},
		{"TRACE", "/owners/1/things/export", 405, "GET, HEAD"},
		{"GET", "/nowhere", 404, ""},
		{"GET", "/things/1/recover/x", 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			rt.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			switch tc.status {
			case 200:
				if tc.method != "HEAD" && !strings.Contains(w.Body.String(), tc.allow) {
					t.Fatalf("answered by %s, want %s", w.Body, tc.allow)
				}
			case 405:
				if got := w.Header().Get("Allow"); got != tc.allow {
					t.Fatalf("Allow %q, want %q", got, tc.allow)
				}
				fallthrough
			default:
				if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Fatalf("content type %q", ct)
				}
				var p Problem
				if tc.method != "HEAD" {
					if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != tc.status {
						t.Fatalf("problem %s: %v", w.Body, err)
					}
				}
			}
		})
	}
}

// TestRouterAmbiguousPaths: two paths that match a common request with neither more specific
// leave a 405's owner undecidable, so registering them fails at start rather than on a request.
func TestRouterAmbiguousPaths(t *testing.T) {
	rt := NewRouter()
	rt.HandleFunc("GET /a/{x}/b", func(http.ResponseWriter, *http.Request) {})
	defer func() {
		p := recover()
		if p == nil || !strings.Contains(p.(string), "/a/b/{y}") {
			t.Fatalf("panic %v", p)
		}
	}()
	rt.HandleFunc("POST /a/b/{y}", func(http.ResponseWriter, *http.Request) {})
}
