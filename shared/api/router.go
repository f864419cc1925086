package api

import (
	"net/http"
	"sort"
	"strings"

	"scaleapi/shared/fault"
)

// Route is one method and path pattern a Router serves.
type Route struct {
	Method string
	Path   string // http.ServeMux path syntax: /projects/{id}
}

// Router is an http.ServeMux that remembers its routes (for the OpenAPI and template checks) and
// answers unknown paths and methods with problem+json instead of the mux's plain text.
type Router struct {
	mux    *http.ServeMux
	routes []Route
}

// NewRouter returns an empty Router.
func NewRouter() *Router { return &Router{mux: http.NewServeMux()} }

// Handle registers h for pattern, written "METHOD /path/{param}".
func (rt *Router) Handle(pattern string, h http.Handler) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		panic("api: route pattern must be \"METHOD /path\": " + pattern)
	}
	rt.mux.Handle(pattern, h)
	rt.routes = append(rt.routes, Route{Method: method, Path: path})
}

// HandleFunc registers f for pattern.
func (rt *Router) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	rt.Handle(pattern, http.HandlerFunc(f))
}

// Routes returns the registered routes, sorted by path then method.
func (rt *Router) Routes() []Route {
	out := append([]Route(nil), rt.routes...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// ServeHTTP dispatches to the matching route. The matched pattern is stored on the request
// (r.Pattern) by the mux, which the Observe middleware reads for its route dimension.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := rt.mux.Handler(r)
	if pattern == "" {
		// The mux's own 404/405 answers are plain text; ours are problems. Its 405 handler sets
		// the Allow header, which we keep.
		rec := &headerOnly{h: w.Header()}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			WriteError(w, r, fault.E(fault.MethodNotAllowed, "method %s is not allowed here", r.Method))
			return
		}
		WriteError(w, r, fault.E(fault.NotFound, "no route for %s %s", r.Method, r.URL.Path))
		return
	}
	rt.mux.ServeHTTP(w, r)
}

// headerOnly captures the status the mux would send, keeping headers, discarding the body.
type headerOnly struct {
	h      http.Header
	status int
}

func (h *headerOnly) Header() http.Header         { return h.h }
func (h *headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerOnly) WriteHeader(s int)           { h.status = s }
