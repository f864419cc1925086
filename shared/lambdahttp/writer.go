package lambdahttp

import "net/http"

// netHTTPSemantics wraps h so that the proxy's response writer behaves like net/http's, which is
// what handlers are written and tested against. Without it a handler that writes nothing fails
// the invocation ("Status code not set on response"), a second WriteHeader overwrites the first,
// and headers set after WriteHeader still reach the client.
func netHTTPSemantics(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{w: w, header: make(http.Header)}
		h.ServeHTTP(sw, r)
		sw.WriteHeader(http.StatusOK)
	})
}

// statusWriter buffers headers until the status is written, as net/http does.
type statusWriter struct {
	w       http.ResponseWriter
	header  http.Header
	written bool
}

func (s *statusWriter) Header() http.Header { return s.header }

func (s *statusWriter) WriteHeader(code int) {
	// API Gateway cannot send informational responses, so 1xx are dropped as net/http would
	// drop them for a client that does not want them.
	if s.written || code < 200 {
		return
	}
	s.written = true
	dst := s.w.Header()
	for k, v := range s.header {
		dst[k] = v
	}
	s.w.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	return s.w.Write(b)
}

// Flush is a no-op: API Gateway proxy responses are buffered whole.
func (s *statusWriter) Flush() {}

// Unwrap lets http.ResponseController reach the proxy's writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.w }
