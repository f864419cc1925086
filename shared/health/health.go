// Package health answers GET /health: whether this environment can reach the primary, the
// replica and Redis. It names a failing check but never a version, host or error text, which
// would tell an attacker what runs behind the API.
package health

import (
	"context"
	"net/http"
	"sync"
	"time"

	"scaleapi/shared/api"
	"scaleapi/shared/openapi"
)

// Check probes one dependency; nil means healthy.
type Check func(ctx context.Context) error

// Checker runs named checks concurrently, each bounded by Timeout.
type Checker struct {
	checks  map[string]Check
	Timeout time.Duration
}

// New returns a Checker of checks, keyed by the name the answer shows ("database", "replica",
// "cache").
func New(checks map[string]Check) *Checker {
	return &Checker{checks: checks, Timeout: time.Second}
}

// Answer is the health document.
type Answer struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// Run runs every check and reports "ok" or "down" for each.
func (c *Checker) Run(ctx context.Context) Answer {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	a := Answer{Status: "ok", Checks: make(map[string]string, len(c.checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range c.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			state := "ok"
			if err := check(ctx); err != nil {
				state = "down"
			}
			mu.Lock()
			a.Checks[name] = state
			if state != "ok" {
				a.Status = "unavailable"
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return a
}

// ServeHTTP answers 200 when every check passes, else 503 with Retry-After.
func (c *Checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := c.Run(r.Context())
	w.Header().Set("Cache-Control", "no-store")
	if a.Status != "ok" {
		w.Header().Set("Retry-After", "5")
		api.WriteJSON(w, http.StatusServiceUnavailable, a)
		return
	}
	api.WriteJSON(w, http.StatusOK, a)
}

// Routes registers the health function's routes: this check and the OpenAPI document, both
// public. c may be nil when only the route list is wanted.
func Routes(r *api.Router, c *Checker) {
	r.Handle("GET /health", c)
	r.Handle("GET /openapi.json", openapi.Handler())
}
