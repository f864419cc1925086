package metrics

import (
	"io"
	"testing"
	"time"
)

// benchLine is a typical request's line: a signed-in user's GET that ran two queries on the
// primary and one on the replica, with a cache miss and a hit.
func benchLine() Line {
	return Line{
		Time:      time.Date(2026, 11, 26, 19, 23, 39, 598123456, time.UTC),
		RequestID: "c4d2b24b-9c87-4f09-b74d-d8399b62a915",
		Method:    "GET",
		Route:     "GET /projects/{id}",
		Status:    200,
		Duration:  5704 * time.Microsecond,
		UserID:    "0b8f6a52-6c39-4a8e-9d0e-3a4f1f0e6b21",
		Record: Snapshot{
			CacheHits: 1, CacheMisses: 1, QueryCount: 3,
			Queries: map[string][]float64{"primary": {1.826, 6.474}, "replica": {0.579}},
		},
	}
}

func BenchmarkMarshal(b *testing.B) {
	e := NewEmitter(io.Discard, "ScaleAPI", "projects")
	l := benchLine()
	b.ReportAllocs()
	for b.Loop() {
		line, err := e.Marshal(l)
		if err != nil {
			b.Fatal(err)
		}
		sink = line
	}
}

// sink keeps BenchmarkMarshal's result alive, as a caller's would be: without it the compiler
// may keep the line on the stack.
var sink []byte

func BenchmarkEmit(b *testing.B) {
	e := NewEmitter(io.Discard, "ScaleAPI", "projects")
	l := benchLine()
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Emit(l); err != nil {
			b.Fatal(err)
		}
	}
}
