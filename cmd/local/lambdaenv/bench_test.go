package lambdaenv

import (
	"io"
	"testing"
)

// BenchmarkLineWriter passes a function's output through, as exec's copy goroutine hands it
// over: one read per line the function logs for each request, and now and then a read holding
// several lines or ending mid-line.
func BenchmarkLineWriter(b *testing.B) {
	line := []byte(`{"time":"2026-01-02T03:04:05.678Z","level":"INFO","msg":"request","method":"GET","path":"/projects/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","status":200,"durationMs":1.234,"cache":"hit","requestId":"c0ffee00-1234-4abc-8def-0123456789ab"}` + "\n")
	several := append(append(append([]byte{}, line...), line...), line[:40]...)
	rest := line[40:]
	w := newLineWriter(io.Discard, "ProjectsFunction[1]")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = w.Write(line)
		_, _ = w.Write(several)
		_, _ = w.Write(rest)
	}
}
