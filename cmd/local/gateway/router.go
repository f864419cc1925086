package gateway

import (
	"fmt"
	"net/url"
	"strings"

	"scaleapi/internal/samtemplate"
)

// Route is one served route: an Api or HttpApi event of a function.
type Route struct {
	Method   string // upper case; "ANY" matches every method
	Path     string // "/projects/{id}", "/{proxy+}", or samtemplate.DefaultRoute
	Function string // logical id
	Kind     samtemplate.EventKind
	// PayloadVersion is "1.0" (REST APIs, and HTTP APIs configured for it) or "2.0".
	PayloadVersion string
	Stage          string
	API            string // logical id of the API; "" for SAM's implicit one

	// key, resourceID and apiID are Key(), the stand-in resource id and apiID(), which New
	// computes once so that serving a request does not hash and concatenate them again. They
	// are empty in a Route built elsewhere, which then computes them on each use.
	key, resourceID, apiID string
}

// Key is the route as API Gateway names it: "GET /projects/{id}", or "$default".
func (r *Route) Key() string {
	if r.key != "" {
		return r.key
	}
	if r.Path == samtemplate.DefaultRoute {
		return r.Path
	}
	return r.Method + " " + r.Path
}

// prepare computes the Route's derived strings; the Route must not change afterwards.
func (r *Route) prepare() {
	r.key, r.resourceID, r.apiID = "", "", ""
	r.key, r.resourceID, r.apiID = r.Key(), r.resourceIDOf(), apiID(r)
}

// resourceIDOf is a stable stand-in for the id API Gateway gives the route's resource.
func (r *Route) resourceIDOf() string {
	if r.resourceID != "" {
		return r.resourceID
	}
	return shortID(r.Key(), 6)
}

// router matches requests the way API Gateway does: a literal segment beats a {param}, which
// beats a greedy {param+}; a method beats ANY; an HTTP API's $default route catches the rest.
// A greedy segment matches one or more segments, so /{proxy+} does not match "/". When the most
// specific path has no method for the request, the next most specific one is tried (DELETE
// /projects/export reaches ANY /projects/{id} when /projects/export only has GET), as `sam local`
// resolves it.
type router struct {
	root     node
	fallback *Route // $default
}

type node struct {
	literal    map[string]*node
	param      *node
	paramName  string
	greedy     *node
	greedyName string
	methods    map[string]*Route
}

// add registers rt; it returns the route it duplicates, if any, without replacing it.
func (rt *router) add(r *Route) (*Route, error) {
	if r.Path == samtemplate.DefaultRoute {
		if rt.fallback != nil {
			return rt.fallback, nil
		}
		rt.fallback = r
		return nil, nil
	}
	n := &rt.root
	segs := split(r.Path)
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}"):
			if i != len(segs)-1 {
				return nil, fmt.Errorf("route %s: a greedy path variable must be the last segment", r.Key())
			}
			name := s[1 : len(s)-2]
			if n.greedy == nil {
				n.greedy, n.greedyName = &node{}, name
			} else if n.greedyName != name {
				return nil, fmt.Errorf("route %s: {%s+} where another route has {%s+}", r.Key(), name, n.greedyName)
			}
			n = n.greedy
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if n.param == nil {
				n.param, n.paramName = &node{}, name
			} else if n.paramName != name {
				// API Gateway rejects sibling path variables with different names, so would the deploy.
				return nil, fmt.Errorf("route %s: {%s} where another route has {%s}", r.Key(), name, n.paramName)
			}
			n = n.param
		default:
			if n.literal == nil {
				n.literal = map[string]*node{}
			}
			c := n.literal[s]
			if c == nil {
				c = &node{}
				n.literal[s] = c
			}
			n = c
		}
	}
	if n.methods == nil {
		n.methods = map[string]*Route{}
	}
	if dup := n.methods[r.Method]; dup != nil {
		return dup, nil
	}
	n.methods[r.Method] = r
	return nil, nil
}

// match returns the route for method and escaped path, with its decoded path parameters.
func (rt *router) match(method, escapedPath string) (*Route, map[string]string) {
	segs := split(escapedPath)
	params := map[string]string{}
	if r := rt.root.match(method, segs, params); r != nil {
		return r, params
	}
	return rt.fallback, nil
}

func (n *node) match(method string, segs []string, params map[string]string) *Route {
	if len(segs) == 0 {
		return n.route(method)
	}
	seg := unescape(segs[0])
	if c := n.literal[seg]; c != nil {
		if r := c.match(method, segs[1:], params); r != nil {
			return r
		}
	}
	if n.param != nil && seg != "" {
		if r := n.param.match(method, segs[1:], params); r != nil {
			params[n.paramName] = seg
			return r
		}
	}
	if n.greedy != nil {
		if r := n.greedy.route(method); r != nil {
			vals := make([]string, len(segs))
			for i, s := range segs {
				vals[i] = unescape(s)
			}
			params[n.greedyName] = strings.Join(vals, "/")
			return r
		}
	}
	return nil
}

func (n *node) route(method string) *Route {
	if r := n.methods[method]; r != nil {
		return r
	}
	return n.methods["ANY"]
}

// split returns the segments of a path; "/" and "" have none, and a trailing slash is ignored.
func split(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
