// Package tracingtest is an OTLP/HTTP trace receiver on loopback for tests: what the ADOT
// collector extension is to a function in Lambda. It decodes every export with the collector's
// own OTLP/JSON unmarshaler (go.opentelemetry.io/collector/pdata, the code behind the otlp
// receiver's JSON path), so what it accepts a collector accepts, and keeps the spans.
package tracingtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Span is one received span, with its ids in hex and its attributes as strings.
type Span struct {
	TraceID, SpanID, ParentID string
	Name                      string
	Kind                      ptrace.SpanKind
	Attributes                map[string]string
	Error                     bool   // status code ERROR
	Service                   string // the resource's service.name
	Scope                     string // the instrumentation scope's name
	Start, End                uint64 // Unix nanoseconds
	RemoteParent              bool   // the span's flags say its parent is remote
}

// Receiver is the running receiver.
type Receiver struct {
	URL string // the base URL to export to (OTEL_EXPORTER_OTLP_ENDPOINT)

	mu      sync.Mutex
	spans   []Span
	exports int
}

// Start starts a receiver that stops when the test ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want POST /v1/traces application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(req.Body)
	var traces ptrace.Traces
	if err == nil {
		var u ptrace.JSONUnmarshaler
		traces, err = u.UnmarshalTraces(body)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exports++
	for _, rs := range traces.ResourceSpans().All() {
		service, _ := rs.Resource().Attributes().Get("service.name")
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				attrs := map[string]string{}
				for k, v := range s.Attributes().All() {
					attrs[k] = v.AsString()
				}
				var parent string
				if !s.ParentSpanID().IsEmpty() {
					parent = s.ParentSpanID().String()
				}
				r.spans = append(r.spans, Span{
					TraceID: s.TraceID().String(), SpanID: s.SpanID().String(), ParentID: parent,
					Name: s.Name(), Kind: s.Kind(), Attributes: attrs,
					Error: s.Status().Code() == ptrace.StatusCodeError, Service: service.AsString(),
					Scope: ss.Scope().Name(), Start: uint64(s.StartTimestamp()), End: uint64(s.EndTimestamp()),
					RemoteParent: s.Flags()&0x300 == 0x300,
				})
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("{}"))
}

// Spans returns every span received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Trace returns the spans received so far of the trace with the given hex id.
func (r *Receiver) Trace(traceID string) []Span {
	var out []Span
	for _, s := range r.Spans() {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// Exports returns how many export requests arrived.
func (r *Receiver) Exports() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exports
}
