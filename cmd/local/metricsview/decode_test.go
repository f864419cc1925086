package metricsview

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"scaleapi/shared/metrics"
)

// decodeCases are lines decodeFast must judge as decodeSlow (json.Unmarshal) does, or leave to
// it: edge cases of JSON and of encoding/json's decoding into emfLine.
var decodeCases = []string{
	`{}`, `[]`, `null`, `"x"`, `1`, ``, `{`, `{"_aws":{}`, `{"_aws":{}}}`, `{"_aws":{}} x`, `{"_aws":{},}`,
	`{"_aws" {}}`, `{"_aws":}`, `{,"_aws":{}}`, `{"_aws":{}}` + "\n",
	`{"_aws":{}}`, `{"_aws":null}`, `{"_aws":{},"_aws":null}`, `{"_aws":null,"_aws":{}}`, `{"_aws":0}`,
	`{"_aws":"x"}`, `{"_aws":[]}`, `{"function":"f"}`, `{"_aws":{},"function":"f"}`,
	` { "_aws" : { "a" : [ 1 , 2 ] } , "status" : 200 , "function" : "f" } `,
	"{\t\"_aws\"\n:\r{},\"route\":\"GET /x\"}",
	// Member names json.Unmarshal matches case-insensitively, or after unescaping.
	`{"_aws":{},"FUNCTION":"g"}`, `{"_AWS":{}}`, `{"_aws":{},"queries":3}`, `{"_aws":{},"Function":"f","function":"g"}`,
	`{"_aws":{},"function":"g","Function":"f"}`, `{"_aws":{},"\u0066unction":"f"}`, `{"_aws":{},"ſtatus":5}`,
	`{"_aws":{},"cacheHITS":7}`, `{"_aws":{},"Status_Class":"x"}`, `{"_aws":{},"K":1,"\u212a":2}`, `{"_aws":{},"_AWS":null}`,
	`{"_aws":{},"FUNCTION":null}`,
	// Types json.Unmarshal refuses, which make the line malformed.
	`{"_aws":{},"status":"200"}`, `{"_aws":{},"status":200.5}`, `{"_aws":{},"status":1e2}`, `{"_aws":{},"status":-0}`,
	`{"_aws":{},"status":9223372036854775807}`, `{"_aws":{},"status":9223372036854775808}`,
	`{"_aws":{},"CacheHits":-1}`, `{"_aws":{},"CacheHits":-0}`, `{"_aws":{},"CacheHits":18446744073709551615}`,
	`{"_aws":{},"CacheHits":18446744073709551616}`, `{"_aws":{},"Queries":1.0}`, `{"_aws":{},"duration_ms":1e400}`,
	`{"_aws":{},"duration_ms":-1e-400}`, `{"_aws":{},"duration_ms":"1"}`, `{"_aws":{},"cold_start":1}`,
	`{"_aws":{},"cold_start":"true"}`, `{"_aws":{},"function":5}`, `{"_aws":{},"route":["x"]}`, `{"status":"x"}`,
	`{"_aws":null,"status":"x"}`, `{"_aws":{},"method":{}}`,
	// null leaves a member as it was.
	`{"_aws":{},"function":null,"route":null,"method":null,"statusClass":null,"status":null,"duration_ms":null,` +
		`"cold_start":null,"CacheHits":null,"CacheMisses":null,"CacheErrors":null,"Queries":null}`,
	`{"_aws":{},"function":"f","function":null,"status":5,"status":null,"cold_start":true,"cold_start":null}`,
	// Strings.
	`{"_aws":{},"route":"GET /a\u0026b"}`, `{"_aws":{},"route":"a\"b"}`, `{"_aws":{},"route":"a\\b"}`,
	`{"_aws":{},"route":"GET /é 日本"}`, "{\"_aws\":{},\"route\":\"bad \xff utf-8\"}", "{\"_aws\":{},\"route\":\"a\tb\"}",
	"{\"_aws\":{},\"requestId\":\"bad \xff utf-8 \\u00e9 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\"}",
	`{"_aws":{},"x":"\x"}`, `{"_aws":{},"x":"\u12"}`, `{"_aws":{},"x":"\uZZZZ"}`, `{"_aws":{},"x":"\`,
	"{\"_aws\":{},\"x\":\"\x01\"}", `{"_aws":{},"x":"\ud800"}`,
	// Literals and numbers in skipped members.
	`{"_aws":{},"x":tru}`, `{"_aws":{},"x":nulll}`, `{"_aws":{},"x":true,"y":false,"z":null}`, `{"_aws":{},"x":01}`,
	`{"_aws":{},"x":1.}`, `{"_aws":{},"x":.5}`, `{"_aws":{},"x":1e}`, `{"_aws":{},"x":-}`, `{"_aws":{},"x":+1}`,
	`{"_aws":{},"x":0x10}`, `{"_aws":{},"x":-0.0e+00}`, `{"_aws":{},"x":1E-7}`, `{"_aws":{},"x":[1,]}`,
	`{"_aws":{},"x":{"a"}}`, `{"_aws":{},"x":{1:2}}`, `{"_aws":{},"x":NaN}`,
	// QueryTime members.
	`{"_aws":{},"QueryTimePrimary":[1,2.5]}`, `{"_aws":{},"QueryTimePrimary":3.5}`, `{"_aws":{},"QueryTimePrimary":null}`,
	`{"_aws":{},"QueryTimePrimary":[]}`, `{"_aws":{},"QueryTimePrimary":[1,null]}`, `{"_aws":{},"QueryTimePrimary":["a"]}`,
	`{"_aws":{},"QueryTimePrimary":"1"}`, `{"_aws":{},"QueryTimePrimary":{}}`, `{"_aws":{},"QueryTimePrimary":[1e400]}`,
	`{"_aws":{},"QueryTimePrimary":1e400}`, `{"_aws":{},"QueryTimePrimary":[[1]]}`, `{"_aws":{},"QueryTimePrimary":true}`,
	`{"_aws":{},"QueryTime":[1]}`, `{"_aws":{},"QueryTimeA":[1],"QueryTimeA":"x"}`, `{"_aws":{},"QueryTimeA":"x","QueryTimeA":[1]}`,
	`{"_aws":{},"QueryTimeA":[1],"QueryTimea":[2]}`, `{"_aws":{},"QueryTimeé":[1]}`, `{"_aws":{},"QueryTime\u0041":[1]}`,
	`{"_aws":{},"QueryTime1":[1],"QueryTime_x":[2],"QueryTimeprimary":[3]}`, `{"_aws":{},"querytimeprimary":[1]}`,
	`{"_aws":{},"QueryTimePrimary":[1],"QueryTimeReplica":[2,3],"QueryTimeArchive":[4]}`,
	`{"_aws":{"QueryTimeX":[1]}}`, `{"_aws":{},"QueryTimePrimary":[1 2]}`, `{"_aws":{},"QueryTimePrimary":[1,2}`,
	// After an _aws object: more members, garbage, a longer object.
	`{"_aws":{},"x":1}`, `{"_aws":{}x}`, `{"_aws":{}}}`, `{"_aws":{},"_aws":{}}`, `{"_aws":{}]`, `{"_aws":{},"_aws":{"a":1}}`,
	// Deep nesting, beyond encoding/json's limit and at its edge.
	`{"_aws":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	`{"_aws":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
	`{"_aws":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"_aws":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
	// A line longer than the deepest nesting encoding/json takes, but shallow.
	`{"_aws":{},"QueryTimePrimary":[` + strings.Repeat("1.5,", 3000) + `2]}`,
}

// emitterLines returns lines shared/metrics writes, with strings that need escaping.
func emitterLines(t testing.TB) []string {
	emitterOnce.Do(func() { emitterLinesCache, emitterErr = makeEmitterLines() })
	if emitterErr != nil {
		t.Fatal(emitterErr)
	}
	return emitterLinesCache
}

var (
	emitterOnce       sync.Once
	emitterLinesCache []string
	emitterErr        error
)

func makeEmitterLines() ([]string, error) {
	var out []string
	for _, s := range []string{"r1", `quote " backslash \`, "nl\n</script>&", "é日本 \u2028", "bad \xff", ""} {
		for _, cold := range []bool{false, true} {
			var buf bytes.Buffer
			l := metrics.Line{Time: time.Unix(1_700_000_000, 0), RequestID: s, Method: "GET", Route: "GET /projects/{id}",
				Status: 500, Duration: 1500 * time.Microsecond, ColdStart: cold, Error: s, UserID: s,
				Record: metrics.Snapshot{CacheHits: 1, CacheMisses: 2, CacheErrors: 3, QueryCount: 4,
					Queries: map[string][]float64{"primary": {1.5, 1e-7}, "replica": {2e21}, "archive": nil, "x": {}}}}
			if err := metrics.NewEmitter(&buf, "ScaleAPI", "projects").Emit(l); err != nil {
				return nil, err
			}
			out = append(out, strings.TrimSpace(buf.String()))
		}
	}
	// A line whose _aws member starts with another line's, and goes on.
	out = append(out, strings.Replace(out[0], `"_aws":{`, `"_aws":{"x":1,`, 1))
	return out, nil
}

// checkDecode fails t if decodeFast decides body differently from decodeSlow: with a new
// decoder, with one whose scratch space holds shared/metrics' lines, and with each of those
// again after it has decoded body.
func checkDecode(t *testing.T, body []byte) (fast outcome) {
	t.Helper()
	slow := new(decoder)
	want := slow.decodeSlow(body)
	warm := new(decoder)
	for _, l := range emitterLines(t) {
		warm.decodeFast([]byte(l))
	}
	fast = unsure
	for i, d := range []*decoder{new(decoder), warm} {
		for range 2 {
			got := d.decodeFast(body)
			if i == 0 {
				fast = got
			} else if got != fast {
				t.Fatalf("%q: decodeFast says %v with a new decoder, %v with a warm one", body, fast, got)
			}
			if got == unsure {
				continue
			}
			if got != want {
				t.Fatalf("%q: decodeFast says %v, decodeSlow %v", body, got, want)
			}
			if got != emf {
				continue
			}
			if a, b := describe(&d.r), describe(&slow.r); a != b {
				t.Fatalf("%q:\ndecodeFast %s\ndecodeSlow %s", body, a, b)
			}
		}
	}
	return fast
}

// describe prints r with its pools in name order and floats by their bits; a null pool and an
// empty one are the same to the aggregator.
func describe(r *request) string {
	s := fmt.Sprintf("function %q route %q method %q class %q status %d duration %x cold %v counts %d/%d/%d/%d pools",
		r.function, r.route, r.method, r.statusClass, r.status, math.Float64bits(r.durationMS), r.coldStart,
		r.cacheHits, r.cacheMisses, r.cacheErrors, r.queries)
	names := map[string]string{}
	var keys []string
	for _, p := range r.pools {
		v := ""
		for _, f := range p.vals {
			v += fmt.Sprintf(" %x", math.Float64bits(f))
		}
		names[string(p.name)] = v
		keys = append(keys, string(p.name))
	}
	if len(keys) != len(names) {
		return s + " (a pool twice)"
	}
	for _, k := range sortedKeys(names, strings.Compare) {
		s += fmt.Sprintf(" %q:[%s]", k, names[k])
	}
	return s
}

func TestDecodeFastAgreesWithJSON(t *testing.T) {
	for _, c := range decodeCases {
		checkDecode(t, []byte(c))
	}
	// The lines the gateway sees by the thousand must not need encoding/json.
	for _, l := range emitterLines(t) {
		if o := checkDecode(t, []byte(l)); o != emf {
			t.Errorf("decodeFast left a shared/metrics line to encoding/json (%v): %s", o, l)
		}
	}
}

// TestDecodeFastTakesNoShortcut checks a few cases' outcomes by hand, so that an agreement in
// error would still be caught.
func TestDecodeFastTakesNoShortcut(t *testing.T) {
	for body, want := range map[string]outcome{
		`{"_aws":{},"function":"f"}`:                    emf,
		`{"_aws":null}`:                                 notEMF,
		`{"_aws":{},"_aws":null}`:                       notEMF,
		`{"_aws":null,"_aws":{}}`:                       emf,
		`{"function":"f"}`:                              notEMF,
		`{"_aws":{},"status":"200"}`:                    unsure,
		`{"_aws":{},"FUNCTION":"g"}`:                    unsure,
		`{"_aws":{},"ſtatus":5}`:                        unsure,
		`{"_aws":{},"route":"GET /a\u0026b"}`:           unsure,
		`{"_aws":{},"QueryTimeA":[1],"QueryTimea":[2]}`: unsure,
		`{"_aws":{}} x`:                                 unsure,
	} {
		if got := new(decoder).decodeFast([]byte(body)); got != want {
			t.Errorf("decodeFast(%s) = %v, want %v", body, got, want)
		}
	}
	for body, want := range map[string]outcome{
		`{"_aws":{},"status":"200"}`: malformed,
		`{"_aws":{},"FUNCTION":"g"}`: emf,
		`{"_aws":{}} x`:              malformed,
	} {
		if got := new(decoder).decodeSlow([]byte(body)); got != want {
			t.Errorf("decodeSlow(%s) = %v, want %v", body, got, want)
		}
	}
}

// TestFeedAllocations checks that a warm aggregator takes a shared/metrics line without
// allocating.
func TestFeedAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool does not keep everything under the race detector")
	}
	a, _ := newTestAggregator()
	line := []byte("projects[1] " + emitterLines(t)[0])
	a.Feed(line)
	if n := testing.AllocsPerRun(100, func() { a.Feed(line) }); n > 0 {
		t.Errorf("Feed: %v allocations per line, want 0", n)
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	for _, l := range emitterLines(f) {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecode(t, body)
	})
}

// raceEnabled is set when the tests run under the race detector.
var raceEnabled bool
