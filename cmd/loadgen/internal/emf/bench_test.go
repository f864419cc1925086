package emf

import (
	"bufio"
	"bytes"
	"os"
	"testing"
	"time"
)

// benchLines returns testdata/local.log's lines: function request lines and the gateway's
// per-invocation lines, in the proportions of a run.
func benchLines(b *testing.B) [][]byte {
	b.Helper()
	raw, err := os.ReadFile("testdata/local.log")
	if err != nil {
		b.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// BenchmarkLine measures the per-line work of a collector with an open window, for each kind
// of line: a function's request line, the gateway's line for a warm invocation, and its line
// for a cold start (rare, and decoded in full).
func BenchmarkLine(b *testing.B) {
	var requests, invokes, colds [][]byte
	for _, l := range benchLines(b) {
		switch _, _, _, ok := prefixed(l); {
		case ok:
			requests = append(requests, l)
		case bytes.Contains(l, []byte(`"coldStart":true`)):
			colds = append(colds, l)
		default:
			invokes = append(invokes, l)
		}
	}
	for _, bc := range []struct {
		name  string
		lines [][]byte
	}{{"request", requests}, {"invoke", invokes}, {"coldstart", colds}} {
		b.Run(bc.name, func(b *testing.B) {
			if len(bc.lines) == 0 {
				b.Fatal("testdata/local.log has no such line")
			}
			c := NewCollector(nil)
			c.Begin("all", time.Unix(0, 0))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.line(bc.lines[i%len(bc.lines)])
				i++
			}
		})
	}
}
