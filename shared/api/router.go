package api

import (
	"fmt"
	"net/http"
	"slices"
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
//
// # 405 for a path another pattern's wildcard would capture
//
// The mux picks the most specific pattern that matches the method and the path, so PUT
// /projects/bulk, where only POST /projects/bulk is registered, matches PUT /projects/{id} with
// id "bulk" and would be answered by that handler (a 400 or 404). But /projects/bulk is a
// resource of its own (API Gateway routes it to its own resource, and the OpenAPI document
// declares it with its methods), and the right answer is 405 with the methods it has. So the
// Router keeps a second mux of method-less patterns, one per registered path: it names the
// path that owns a request, the most specific one by the mux's own precedence rules. When the
// pattern that matched belongs to another path than the owner, the request is a method the owner
// lacks: 405, with Allow listing the owner's methods. This holds for any set of routes, not for
// /bulk alone.
type Router struct {
	mux *http.ServeMux
	// paths holds one method-less pattern per distinct path of routes; its matched pattern is
	// the path that owns a request.
	paths   *http.ServeMux
	methods map[string][]string // path -> its methods, sorted, as Allow lists them
	routes  []Route
}

// NewRouter returns an empty Router.
func NewRouter() *Router {
	return &Router{mux: http.NewServeMux(), paths: http.NewServeMux(), methods: map[string][]string{}}
}

// Handle registers h for pattern, written "METHOD /path/{param}". It panics, as the mux does, on
// a pattern that conflicts with another; also on two paths that match a common request with
// neither more specific (GET /a/{x}/b beside POST /a/b/{y}), whose owner the Router could not
// tell for a 405.
func (rt *Router) Handle(pattern string, h http.Handler) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		panic("api: route pattern must be \"METHOD /path\": " + pattern)
	}
	rt.mux.Handle(pattern, h)
	if _, known := rt.methods[path]; !known {
		func() {
			defer func() {
				if p := recover(); p != nil {
					panic(fmt.Sprintf("api: path %s overlaps another route's path with neither more specific, so a 405's Allow would be ambiguous: %v", path, p))
				}
			}()
			rt.paths.Handle(path, http.NotFoundHandler()) // the handler is never run: only the match is used
		}()
	}
	ms := rt.methods[path]
	if !slices.Contains(ms, method) {
		ms = append(ms, method)
		if method == http.MethodGet && !slices.Contains(ms, http.MethodHead) {
			ms = append(ms, http.MethodHead) // the mux serves HEAD with a GET pattern
		}
		slices.Sort(ms)
		rt.methods[path] = ms
	}
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
		// The mux's own 404/405 answers are plain text; ours are problems. Its 405 lists in
		// Allow the methods of every pattern that matches the path (OPTIONS /projects/bulk would
		// get /projects/{id}'s too), so Allow is the owner's instead.
		rec := &headerOnly{h: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			allow := rec.h.Get("Allow")
			if _, owner := rt.paths.Handler(r); owner != "" {
				allow = strings.Join(rt.methods[owner], ", ")
			}
			rt.notAllowed(w, r, allow)
			return
		}
		WriteError(w, r, fault.E(fault.NotFound, "no route for %s %s", r.Method, r.URL.Path))
		return
	}
	// Only a pattern with a wildcard can have captured a path that another pattern owns, so
	// literal patterns skip the second lookup. GET /projects/{id}, the hottest route, does pay
	// it: one more ServeMux match, well under a microsecond.
	if _, path, _ := strings.Cut(pattern, " "); strings.IndexByte(path, '{') >= 0 {
		if _, owner := rt.paths.Handler(r); owner != "" && owner != path {
			rt.notAllowed(w, r, strings.Join(rt.methods[owner], ", "))
			return
		}
	}
	rt.mux.ServeHTTP(w, r)
}

// notAllowed answers 405 with allow as the Allow header (RFC 9110 §15.5.6 requires it).
func (rt *Router) notAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	WriteError(w, r, fault.E(fault.MethodNotAllowed, "method %s is not allowed here", r.Method))
}

// headerOnly captures the status the mux would send, keeping headers, discarding the body.
type headerOnly struct {
	h      http.Header
	status int
}

func (h *headerOnly) Header() http.Header         { return h.h }
func (h *headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerOnly) WriteHeader(s int)           { h.status = s }
