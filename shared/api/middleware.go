package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"scaleapi/shared/fault"
	"scaleapi/shared/metrics"
)

type infoKey struct{}

// requestInfo is what the middleware learns about a request while it runs.
type requestInfo struct {
	id     string
	userID string
	err    error
}

func infoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(infoKey{}).(*requestInfo)
	return i
}

// RequestID returns the request's id: API Gateway's, else the client's X-Request-Id, else a new one.
func RequestID(ctx context.Context) string {
	if i := infoFrom(ctx); i != nil {
		return i.id
	}
	return ""
}

// SetUser names the authenticated user on the request's log line.
func SetUser(ctx context.Context, id string) {
	if i := infoFrom(ctx); i != nil {
		i.userID = id
	}
}

// IDSource extracts an upstream request id (the API Gateway request context's) from a request.
type IDSource func(r *http.Request) string

// Observer wraps a handler with the middleware every function runs: request id, panic recovery,
// one JSON line per request with its timing and EMF metrics, and the cold-start flag.
type Observer struct {
	Emitter *metrics.Emitter
	Log     *slog.Logger
	IDFrom  IDSource // optional
	Spans   Spans    // optional
	cold    atomic.Bool
}

// Spans starts a trace span for each request (shared/tracing's *Tracing): Start returns the
// request's context with the span in it, and the function that ends the span once the request
// has been answered, given its route pattern and status.
type Spans interface {
	Start(r *http.Request) (context.Context, func(route string, status int))
}

// NewObserver returns an Observer; the first request it sees is the cold start.
func NewObserver(e *metrics.Emitter, log *slog.Logger, idFrom IDSource) *Observer {
	o := &Observer{Emitter: e, Log: log, IDFrom: idFrom}
	o.cold.Store(true)
	return o
}

// Wrap returns next with the middleware applied.
func (o *Observer) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cold := o.cold.Swap(false)
		var endSpan func(route string, status int)
		if o.Spans != nil {
			var ctx context.Context
			ctx, endSpan = o.Spans.Start(r)
			r = r.WithContext(ctx)
		}
		info := &requestInfo{id: o.requestID(r)}
		ctx, rec := metrics.WithRecord(context.WithValue(r.Context(), infoKey{}, info))
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		sw.Header().Set("X-Request-Id", info.id)

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				info.err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
				if !sw.wrote {
					WriteError(sw, r, fault.E(fault.Internal, "internal error"))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			line := metrics.Line{
				Time: start, RequestID: info.id, Method: r.Method, Route: route,
				Status: sw.status(), Duration: time.Since(start), ColdStart: cold,
				UserID: info.userID, Record: rec.Snapshot(),
			}
			if info.err != nil && line.Status >= 500 {
				line.Error = info.err.Error()
			}
			if err := o.Emitter.Emit(line); err != nil && o.Log != nil {
				o.Log.Warn("emit metrics", "err", err)
			}
			if endSpan != nil {
				endSpan(route, line.Status)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

func (o *Observer) requestID(r *http.Request) string {
	if o.IDFrom != nil {
		if id := o.IDFrom(r); id != "" {
			return id
		}
	}
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 && printable(id) {
		return id
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// statusWriter remembers the status a handler sent.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.code, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) status() int {
	if !s.wrote {
		return http.StatusOK
	}
	return s.code
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ClientIP returns the caller's address as API Gateway saw it: the Lambda adapter puts the request
// context's source IP in RemoteAddr. X-Forwarded-For is not read: a client can write anything there.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return strings.TrimSpace(host)
}
