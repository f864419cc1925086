package emf

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkIndex fails t unless patternSet.index finds each pattern where bytes.Index does.
func checkIndex(t *testing.T, ps *patternSet, b []byte) {
	t.Helper()
	at := make([]int, len(ps.pats))
	ps.index(b, at)
	for k, p := range ps.pats {
		if want := bytes.Index(b, p); at[k] != want {
			t.Fatalf("pattern %s in %q: at %d, bytes.Index says %d", p, b, at[k], want)
		}
	}
}

// patternLines are the testdata's lines and lines built to trip a quote-to-quote search:
// patterns that overlap, that start inside another, that end the line or are cut off by it.
func patternLines(t testing.TB) []string {
	raw, err := os.ReadFile("testdata/local.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	return append(lines,
		``, `"`, `""`, `"_aws`, `"_aws"`, `x"_aws"`, `"""_aws"`, `"msg":"request"`, `"msg":"msg":"request"`,
		`{"level":"INFO","level":"ERROR"}`, `"level":"ERRO`, `"status":"status":200`, `"QueryTimePrimary":[1,2]"QueryTimePrimary":[3]`,
		`{"msg":"\"_aws\""}`, `"cold_start":false,"cold_start":true`, `"time":"`, `"time":"x"`, `"level":"DEBUG"`+`"level":"INFO"`,
		`{"time":"2026","msg":"invoke","coldStart":true,"outcome":"ok"}`, `"msg":"invoke""outcome":"ok"`, `"coldStart":tru`,
	)
}

func TestPatternSetFindsWhatIndexFinds(t *testing.T) {
	lines := patternLines(t)
	rng := rand.New(rand.NewPCG(3, 4))
	// Splices of real lines and patterns, cut at random places.
	var pieces []string
	for _, ps := range []*patternSet{functionPatterns, gatewayPatterns} {
		for _, p := range ps.pats {
			pieces = append(pieces, string(p))
		}
	}
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(6) {
			var s string
			if rng.IntN(2) == 0 {
				s = lines[rng.IntN(len(lines))]
			} else {
				s = pieces[rng.IntN(len(pieces))]
			}
			i, j := rng.IntN(len(s)+1), rng.IntN(len(s)+1)
			b.WriteString(s[min(i, j):max(i, j)])
		}
		lines = append(lines, b.String())
	}
	for _, l := range lines {
		checkIndex(t, functionPatterns, []byte(l))
		checkIndex(t, gatewayPatterns, []byte(l))
	}
}

// numsByValue is how nums read an array before it yielded its numbers: split at commas, parse
// what parses.
func numsByValue(v string) []float64 {
	var out []float64
	for _, p := range strings.Split(v, ",") {
		if f, err := strconv.ParseFloat(strings.TrimSpace(p), 64); err == nil {
			out = append(out, f)
		}
	}
	return out
}

func TestNums(t *testing.T) {
	for _, v := range []string{"", "1", "1,2.5", " 1 , x ,3", "1,,2", "1e400,2", "-0,1e-7", "[1]", "1,2"} {
		for _, tail := range []string{"]", "],\"x\":[9]", ""} {
			line := []byte(`{"QueryTimePrimary":[` + v + tail + `}`)
			var at [nFunctionPatterns]int
			functionPatterns.index(line, at[:])
			var got []float64
			for f := range nums(line, &at, pQueryTimePrimary) {
				got = append(got, f)
			}
			var want []float64
			if tail != "" || strings.Contains(v, "]") {
				want = numsByValue(strings.SplitN(v+tail, "]", 2)[0])
			}
			if len(got) != len(want) {
				t.Fatalf("%s: %v, want %v", line, got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s: %v, want %v", line, got, want)
				}
			}
		}
	}
}

func FuzzPatternSet(f *testing.F) {
	for _, l := range patternLines(f) {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkIndex(t, functionPatterns, b)
		checkIndex(t, gatewayPatterns, b)
	})
}

// TestRequestLineAllocations checks that a request line of a known function and route costs no
// allocation beyond its timestamp's.
func TestRequestLineAllocations(t *testing.T) {
	c := NewCollector(nil)
	c.Begin("all", time.Unix(0, 0))
	var line []byte
	for _, l := range patternLines(t) {
		if _, _, _, ok := prefixed([]byte(l)); ok {
			line = []byte(l)
			break
		}
	}
	c.line(line)
	if n := testing.AllocsPerRun(100, func() { c.line(line) }); n > 1 {
		t.Errorf("%v allocations per request line, want at most 1", n)
	}
}
