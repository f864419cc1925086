package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
	"unicode/utf8"
)

// referenceMarshal is the map-based encoding AppendLine replaced, kept as the definition of
// the line: json.Marshal of a map whose members are the line's fields.
func referenceMarshal(e *Emitter, l Line) ([]byte, error) {
	type metricDef struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	type directive struct {
		Namespace  string      `json:"Namespace"`
		Dimensions [][]string  `json:"Dimensions"`
		Metrics    []metricDef `json:"Metrics"`
	}
	type awsMeta struct {
		Timestamp         int64       `json:"Timestamp"`
		CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
	}
	class := StatusClass(l.Status)
	m := map[string]any{
		"level":        "INFO",
		"msg":          "request",
		"time":         l.Time.UTC().Format(time.RFC3339Nano),
		"requestId":    l.RequestID,
		"function":     e.function,
		"method":       l.Method,
		"route":        l.Route,
		"status":       l.Status,
		"statusClass":  class,
		"duration_ms":  ms(l.Duration),
		"cold_start":   l.ColdStart,
		"Duration":     ms(l.Duration),
		"Requests":     1,
		"Errors":       b2i(l.Status >= 500),
		"ClientErrors": b2i(l.Status >= 400 && l.Status < 500),
	}
	if l.UserID != "" {
		m["userId"] = l.UserID
	}
	if l.Error != "" {
		m["level"] = "ERROR"
		m["error"] = l.Error
	}
	reqMetrics := []metricDef{{"Duration", "Milliseconds"}, {"Requests", "Count"}, {"Errors", "Count"}, {"ClientErrors", "Count"}}
	fnMetrics := []metricDef{{"CacheHits", "Count"}, {"CacheMisses", "Count"}, {"CacheErrors", "Count"}, {"Queries", "Count"},
		{"RedisCalls", "Count"}, {"DatabaseCalls", "Count"}}
	r := l.Record
	m["CacheHits"], m["CacheMisses"], m["CacheErrors"], m["Queries"] = r.CacheHits, r.CacheMisses, r.CacheErrors, r.QueryCount
	m["RedisCalls"], m["DatabaseCalls"] = r.RedisCalls, r.DatabaseCalls
	if l.ColdStart {
		m["ColdStarts"] = 1
		fnMetrics = append(fnMetrics, metricDef{"ColdStarts", "Count"})
	}
	pools := make([]string, 0, len(r.Queries))
	for p := range r.Queries {
		pools = append(pools, p)
	}
	sort.Strings(pools)
	for _, p := range pools {
		name := "QueryTime" + title(p)
		m[name] = r.Queries[p]
		fnMetrics = append(fnMetrics, metricDef{name, "Milliseconds"})
	}
	m["_aws"] = awsMeta{
		Timestamp: l.Time.UnixMilli(),
		CloudWatchMetrics: []directive{
			{Namespace: e.namespace, Dimensions: [][]string{{"function", "route", "method", "statusClass"}, {"function"}}, Metrics: reqMetrics},
			{Namespace: e.namespace, Dimensions: [][]string{{"function"}}, Metrics: fnMetrics},
		},
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// nastyStrings are values a request can put into a line: a client's X-Request-Id, a panic's
// message, a user ID, a route.
var nastyStrings = []string{
	"",
	"r1",
	`quote " and backslash \ and slash /`,
	"newline\nreturn\rtab\tbackspace\bformfeed\f",
	"\x00\x01\x1f\x7f",
	"</script><script>alert(1)</script> & more",
	"unicode: héllo, 日本語, emoji 🚀, combining e\u0301",
	"separators \u2028 and \u2029",
	"invalid utf-8: \xff\xfe, truncated \xe6\x97, lone continuation \x80, overlong \xc0\xaf",
	"surrogate half \xed\xa0\x80",
	"\ufffd already a replacement character",
	"GET /projects/{id}",
	"panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.main()\n\t/x.go:5 +0x1d\n",
}

// checkSame fails t unless AppendLine and referenceMarshal agree on l, bytes and errors.
func checkSame(t *testing.T, e *Emitter, l Line) {
	t.Helper()
	want, wantErr := referenceMarshal(e, l)
	got, gotErr := e.Marshal(l)
	if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
		t.Fatalf("error %v, reference %v, for %#v", gotErr, wantErr, l)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("line differs from the reference for %#v\n got: %s\nwant: %s", l, got, want)
	}
	// Appending after existing content leaves it in place.
	prefix := []byte("prefix ")
	appended, err := e.AppendLine(prefix, l)
	if err != nil {
		if !bytes.Equal(appended, prefix) {
			t.Fatalf("on error AppendLine returned %q, want dst unchanged", appended)
		}
		return
	}
	if !bytes.Equal(appended, append([]byte("prefix "), want...)) {
		t.Fatalf("AppendLine after a prefix: %s", appended)
	}
}

func TestMarshalMatchesReference(t *testing.T) {
	base := Line{
		Time: time.Date(2026, 11, 26, 19, 23, 39, 598123456, time.UTC), RequestID: "r1", Method: "GET",
		Route: "GET /projects/{id}", Status: 200, Duration: 5704 * time.Microsecond,
	}
	emitters := []*Emitter{NewEmitter(nil, "ScaleAPI", "projects")}
	for _, s := range nastyStrings {
		emitters = append(emitters, NewEmitter(nil, s, s))
	}
	cases := map[string]func(l *Line){
		"zero":       func(l *Line) { *l = Line{} },
		"base":       func(l *Line) {},
		"cold start": func(l *Line) { l.ColdStart = true },
		"user":       func(l *Line) { l.UserID = "0b8f6a52-6c39-4a8e-9d0e-3a4f1f0e6b21" },
		"5xx error":  func(l *Line) { l.Status, l.Error = 500, "find project: boom" },
		"4xx":        func(l *Line) { l.Status = 404 },
		"3xx":        func(l *Line) { l.Status = 304 },
		"negative":   func(l *Line) { l.Status, l.Duration = -1, -time.Microsecond },
		"huge":       func(l *Line) { l.Status, l.Duration = math.MaxInt, math.MaxInt64 },
		"zone":       func(l *Line) { l.Time = time.Date(2026, 3, 1, 2, 3, 4, 0, time.FixedZone("X", 5*3600+1800)) },
		"zero time":  func(l *Line) { l.Time = time.Time{} },
		"far future": func(l *Line) { l.Time = time.Date(12345, 1, 1, 0, 0, 0, 1, time.UTC) },
		"counters": func(l *Line) {
			l.Record = Snapshot{CacheHits: 3, CacheMisses: 2, CacheErrors: 1, QueryCount: 250, QueryErrors: 4,
				RedisCalls: 3, DatabaseCalls: 251}
		},
		"two pools": func(l *Line) {
			l.Record.Queries = map[string][]float64{"primary": {1.826, 6.474}, "replica": {0.579}}
		},
		"many pools": func(l *Line) {
			l.Record.Queries = map[string][]float64{
				"replica": {1}, "primary": {2}, "archive": {3}, "Zeta": {4}, "alpha": {5}, "b": {6},
			}
		},
		"colliding pools": func(l *Line) {
			// "primary" and "Primary" are both QueryTimePrimary.
			l.Record.Queries = map[string][]float64{"primary": {1}, "Primary": {2}, "replica": {3}}
		},
		"odd pools": func(l *Line) {
			l.Record.Queries = map[string][]float64{"": {1}, "é": {2}, "\xff": {3}, "<b>": {4}, `"q"`: {5}, "ü\n": {6}}
		},
		"empty and nil values": func(l *Line) {
			l.Record.Queries = map[string][]float64{"primary": {}, "replica": nil}
		},
		"float forms": func(l *Line) {
			l.Record.Queries = map[string][]float64{"primary": {
				0, math.Copysign(0, -1), 1e-7, 1e-6, 9.99e-7, 1e20, 1e21, 1.5e300, -2.5e-8, 0.001, 123456.789,
				math.MaxFloat64, math.SmallestNonzeroFloat64, 1e-10, 1e-100,
			}}
			l.Duration = time.Nanosecond
		},
		"NaN":      func(l *Line) { l.Record.Queries = map[string][]float64{"primary": {1, math.NaN()}} },
		"Inf":      func(l *Line) { l.Record.Queries = map[string][]float64{"replica": {math.Inf(-1)}} },
		"full cap": func(l *Line) { l.Record.Queries = map[string][]float64{"primary": make([]float64, maxQueriesPerLine)} },
	}
	for _, e := range emitters {
		for name, mod := range cases {
			l := base
			mod(&l)
			t.Run(fmt.Sprintf("%q/%s", e.function, name), func(t *testing.T) { checkSame(t, e, l) })
		}
	}
	e := emitters[0]
	for i, s := range nastyStrings {
		for _, field := range []string{"RequestID", "Method", "Route", "UserID", "Error"} {
			l := base
			l.ColdStart = i%2 == 0
			switch field {
			case "RequestID":
				l.RequestID = s
			case "Method":
				l.Method = s
			case "Route":
				l.Route = s
			case "UserID":
				l.UserID = s
			case "Error":
				l.Status, l.Error = 500, s
			}
			t.Run(fmt.Sprintf("%s=%q", field, s), func(t *testing.T) { checkSame(t, e, l) })
		}
	}
}

// TestMarshalMatchesReferenceRandom compares many random lines, built from random bytes,
// random runes and the nasty strings.
func TestMarshalMatchesReferenceRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		switch rng.IntN(4) {
		case 0:
			return nastyStrings[rng.IntN(len(nastyStrings))]
		case 1:
			b := make([]byte, rng.IntN(12))
			for i := range b {
				b[i] = byte(rng.UintN(256))
			}
			return string(b)
		case 2:
			var b []byte
			for range rng.IntN(8) {
				b = utf8.AppendRune(b, rune(rng.IntN(0x2100)))
			}
			return string(b)
		default:
			return ""
		}
	}
	for range 5000 {
		e := NewEmitter(nil, str(), str())
		l := Line{
			Time:      time.Unix(rng.Int64N(1<<35)-1<<34, rng.Int64N(1e9)),
			RequestID: str(), Method: str(), Route: str(), UserID: str(), Error: str(),
			Status:    rng.IntN(700) - 50,
			Duration:  time.Duration(rng.Int64N(1 << 40)),
			ColdStart: rng.IntN(2) == 0,
			Record: Snapshot{
				CacheHits: rng.IntN(100), CacheMisses: rng.IntN(100), CacheErrors: rng.IntN(3),
				QueryCount: rng.IntN(300), QueryErrors: rng.IntN(3),
				RedisCalls: rng.IntN(10), DatabaseCalls: rng.IntN(300),
			},
		}
		if n := rng.IntN(4); n > 0 {
			l.Record.Queries = map[string][]float64{}
			for range n {
				var vs []float64
				for range rng.IntN(5) {
					vs = append(vs, math.Float64frombits(rng.Uint64())) // NaN and Inf now and then
				}
				l.Record.Queries[str()] = vs
			}
		}
		// One test, not 5,000 subtests, which would each count in the suite's totals; the
		// first line that differs stops it and is printed whole.
		checkSame(t, e, l)
	}
}

// FuzzAppendLine compares AppendLine with the reference on fuzzed strings and numbers.
func FuzzAppendLine(f *testing.F) {
	for _, s := range nastyStrings {
		f.Add(s, s, s, 200, int64(1500), true, 1.5)
	}
	f.Fuzz(func(t *testing.T, id, route, pool string, status int, us int64, cold bool, q float64) {
		l := Line{
			Time: time.UnixMicro(us), RequestID: id, Route: route, Method: route, Error: id, UserID: route,
			Status: status, Duration: time.Duration(us) * time.Microsecond, ColdStart: cold,
			Record: Snapshot{Queries: map[string][]float64{pool: {q}, "primary": {q, q}}},
		}
		checkSame(t, NewEmitter(nil, pool, id), l)
	})
}

func TestEmitWritesMarshal(t *testing.T) {
	var buf bytes.Buffer
	e := NewEmitter(&buf, "ScaleAPI", "projects")
	l := Line{Time: time.Unix(1700000000, 0), RequestID: "r1", Status: 200,
		Record: Snapshot{Queries: map[string][]float64{"primary": {1}}}}
	for range 3 { // the second and third reuse a pooled buffer
		if err := e.Emit(l); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := referenceMarshal(e, l)
	if buf.String() != string(want)+string(want)+string(want) {
		t.Fatalf("Emit wrote\n%s\nwant three times\n%s", buf.String(), want)
	}
	buf.Reset()
	l.Record.Queries["primary"] = []float64{math.NaN()}
	var uv *json.UnsupportedValueError
	if err := e.Emit(l); !errors.As(err, &uv) || buf.Len() != 0 {
		t.Fatalf("Emit of a NaN query time: %v, wrote %q", err, buf.String())
	}
}

// TestMarshalAllocations checks that a typical line costs one allocation, its result, and that
// Emit costs none once warm.
func TestMarshalAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool does not keep everything under the race detector")
	}
	e := NewEmitter(discard{}, "ScaleAPI", "projects")
	l := benchLine()
	if n := testing.AllocsPerRun(100, func() { _, _ = e.Marshal(l) }); n > 1 {
		t.Errorf("Marshal: %v allocations, want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = e.Emit(l) }); n > 0 {
		t.Errorf("Emit: %v allocations, want 0", n)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// raceEnabled is set when the tests run under the race detector.
var raceEnabled bool
