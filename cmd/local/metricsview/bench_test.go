package metricsview

import (
	"io"
	"testing"
	"time"

	"scaleapi/shared/metrics"
)

// benchRequestLine is a typical function output line as the gateway's teeWriter sees it: a
// request line with two primary queries and one replica query, prefixed by lambdaenv.
func benchRequestLine(b *testing.B) []byte {
	b.Helper()
	out, err := metrics.NewEmitter(io.Discard, "ScaleAPI", "local-projects").Marshal(metrics.Line{
		Time: time.Unix(1_700_000_000, 0), RequestID: "c4d2b24b-9c87-4f09-b74d-d8399b62a915",
		Method: "GET", Route: "GET /projects/{id}", Status: 200, Duration: 5704 * time.Microsecond,
		UserID: "0b8f6a52-6c39-4a8e-9d0e-3a4f1f0e6b21",
		Record: metrics.Snapshot{CacheHits: 1, CacheMisses: 1, QueryCount: 3,
			Queries: map[string][]float64{"primary": {1.826, 6.474}, "replica": {0.579}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return append([]byte("local-projects[3] "), out...)
}

// BenchmarkFeed measures Feed on a request line and on a function's ordinary log line, which
// the gateway sees as often.
func BenchmarkFeed(b *testing.B) {
	for _, bc := range []struct {
		name string
		line []byte
		emf  bool
	}{
		{"request", benchRequestLine(b), true},
		{"log", []byte(`local-projects[3] {"time":"2026-11-26T19:23:40.123456789Z","level":"INFO","msg":"cache fill","function":"local-projects","key":"project:42"}`), false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a := NewAggregator()
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.line)))
			for b.Loop() {
				if a.Feed(bc.line) != bc.emf {
					b.Fatal("Feed misjudged the line")
				}
			}
		})
	}
}

// BenchmarkWriter measures the teeWriter lambdaenv writes each output line through.
func BenchmarkWriter(b *testing.B) {
	line := benchRequestLine(b)
	w := NewAggregator().Writer(io.Discard)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
	}
}
