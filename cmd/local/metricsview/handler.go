package metricsview

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"net/http"
	"strings"
)

// Prefix is the path prefix cmd/local answers itself, before any route matching. No route of
// template.yaml lies under it, and none should: the page would hide it locally.
const Prefix = "/_local/"

//go:embed page.html
var page []byte

// Handler serves the aggregator under Prefix:
//
//	GET /_local/              the page with charts
//	GET /_local/metrics       Prometheus text
//	GET /_local/metrics.json  the Snapshot the page polls
func (a *Aggregator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET "+Prefix+"metrics", func(w http.ResponseWriter, r *http.Request) {
		// Encoded in full first, so an encoding error is a 500 rather than a truncated body.
		var buf bytes.Buffer
		if err := a.WritePrometheus(&buf); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", string(TextFormat))
		_, _ = buf.WriteTo(w)
	})
	mux.HandleFunc("GET "+Prefix+"metrics.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(a.Snapshot())
	})
	return mux
}

// Wrap returns a handler that answers paths under Prefix (and Prefix without its trailing
// slash) with a's Handler and everything else with next, before next's route matching sees
// them.
func (a *Aggregator) Wrap(next http.Handler) http.Handler {
	own := a.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == strings.TrimSuffix(Prefix, "/"):
			http.Redirect(w, r, Prefix, http.StatusFound)
		case strings.HasPrefix(r.URL.Path, Prefix):
			own.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}
