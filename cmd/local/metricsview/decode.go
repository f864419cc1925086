package metricsview

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Feed sees every line every function prints, and a request line is mostly its _aws
// directives, which Feed does not read. json.Unmarshal (and once more into a map for the
// QueryTime<Pool> members) cost tens of microseconds and a hundred allocations per request line.
//
// decodeFast leaves the JSON to github.com/tidwall/gjson, a maintained library pinned in go.mod,
// rather than to a parser of the project's own: gjson checks the line's syntax and walks its
// members without building anything. decodeFast gives up on anything it might read otherwise
// than encoding/json (its comment lists them), and decodeSlow, the json.Unmarshal-based
// decoding, then decides. shared/metrics' lines never make it give up, so any line is still
// judged as json.Unmarshal judges it; decode_test.go compares the two on edge cases and under
// fuzzing.

// request is what Feed takes from one EMF line. Its byte slices point into the line or into
// the decoder's scratch space and are valid until the decoder is put back.
type request struct {
	function, route, method, statusClass []byte
	status                               int
	durationMS                           float64
	coldStart                            bool
	cacheHits, cacheMisses, cacheErrors  uint64
	queries                              uint64
	pools                                []poolTimes
}

// poolTimes is one QueryTime<Pool> member: the pool's name as the aggregator labels it
// ("primary" for QueryTimePrimary) and its query times.
type poolTimes struct {
	name []byte
	vals []float64
}

// decoder holds one Feed call's scratch space, reused through decoders so that a warm
// aggregator decodes without allocating.
type decoder struct {
	r     request
	names []byte    // the pools' names, back to back
	vals  []float64 // the pools' times, back to back
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

// put returns d to decoders, dropping what it points to in the caller's line.
func (d *decoder) put() {
	d.r = request{pools: d.r.pools[:0]}
	decoders.Put(d)
}

// outcome is what a decoding found.
type outcome int

const (
	notEMF    outcome = iota // valid, but no _aws member or a null one
	emf                      // an EMF line, decoded into the request
	malformed                // json.Unmarshal would fail (decodeSlow only)
	unsure                   // decodeFast gave up; ask decodeSlow
)

// fieldNames are emfLine's JSON names, which json.Unmarshal also matches case-insensitively.
var fieldNames = []string{"_aws", "function", "route", "method", "status", "statusClass", "duration_ms",
	"cold_start", "CacheHits", "CacheMisses", "CacheErrors", "Queries"}

// maxNesting is encoding/json's limit on nesting, which gjson does not apply. Only a longer text
// can nest deeper, and for one (a request with many queries, say) json.Valid decides as well.
const maxNesting = 10000

// decodeFast decodes body, a whole JSON text, into d.r. It gives up (and leaves d.r half
// filled for decodeSlow to start over) on a syntax error, nesting encoding/json refuses, an
// escaped or non-ASCII member name, a name that would match a field only case-insensitively, a
// string field with an escape or invalid UTF-8, a number its field cannot hold, a value of
// another type, two QueryTime members for one pool.
func (d *decoder) decodeFast(body []byte) outcome {
	d.r = request{pools: d.r.pools[:0]}
	d.names, d.vals = d.names[:0], d.vals[:0]
	if !gjson.ValidBytes(body) || len(body) > maxNesting && !json.Valid(body) {
		return unsure
	}
	// gjson reads a string: this one shares body's bytes, which do not change while Feed runs,
	// so that nothing is copied. d.r's byte slices are cut from body where gjson found them.
	top := gjson.Parse(unsafe.String(unsafe.SliceData(body), len(body))) // #nosec G103 -- body is not modified while the string is in use (above)
	if !top.IsObject() {
		return unsure // json.Unmarshal's error for another type, or notEMF for null
	}
	ok, hasAWS := true, false
	top.ForEach(func(k, v gjson.Result) bool {
		key := k.Raw[1 : len(k.Raw)-1]
		pool, isPool := strings.CutPrefix(key, "QueryTime")
		switch {
		case strings.IndexFunc(key, func(r rune) bool { return r == '\\' || r >= utf8.RuneSelf }) >= 0:
			ok = false
		case isPool && pool != "":
			ok = d.pool(pool, v)
		case key == "_aws":
			hasAWS = v.Type != gjson.Null // a json.RawMessage takes anything but null
		case v.Type == gjson.Null && slices.Contains(fieldNames, key):
			// null leaves a field as it is. Names matching only case-insensitively ("_AWS",
			// which a null would set) go on to the check below.
		default:
			switch key {
			case "function":
				d.r.function, ok = text(body, v)
			case "route":
				d.r.route, ok = text(body, v)
			case "method":
				d.r.method, ok = text(body, v)
			case "statusClass":
				d.r.statusClass, ok = text(body, v)
			case "status":
				var n int64
				n, ok = integer(v, strconv.ParseInt)
				d.r.status = int(n)
			case "duration_ms":
				d.r.durationMS, ok = number(v)
			case "cold_start":
				d.r.coldStart, ok = v.Bool(), v.IsBool()
			case "CacheHits":
				d.r.cacheHits, ok = integer(v, strconv.ParseUint)
			case "CacheMisses":
				d.r.cacheMisses, ok = integer(v, strconv.ParseUint)
			case "CacheErrors":
				d.r.cacheErrors, ok = integer(v, strconv.ParseUint)
			case "Queries":
				d.r.queries, ok = integer(v, strconv.ParseUint)
			default:
				// Between ASCII names, strings.EqualFold folds only letters, as encoding/json does.
				ok = !slices.ContainsFunc(fieldNames, func(f string) bool { return strings.EqualFold(f, key) })
			}
		}
		return ok
	})
	switch {
	case !ok:
		return unsure
	case !hasAWS:
		return notEMF
	}
	return emf
}

// text returns a string's bytes if they are what it decodes to: no escapes, valid UTF-8.
func text(body []byte, v gjson.Result) ([]byte, bool) {
	if v.Type != gjson.String || strings.IndexByte(v.Raw, '\\') >= 0 || !utf8.ValidString(v.Str) {
		return nil, false
	}
	return body[v.Index+1 : v.Index+len(v.Raw)-1], true
}

// integer reads a number as json.Unmarshal would into an int64 or a uint64, with parse
// strconv.ParseInt or ParseUint. A number the type cannot hold is left to decodeSlow.
func integer[T int64 | uint64](v gjson.Result, parse func(string, int, int) (T, error)) (T, bool) {
	if v.Type != gjson.Number {
		return 0, false
	}
	n, err := parse(v.Raw, 10, 64)
	return n, err == nil
}

// number returns v.Num, which gjson parses with strconv.ParseFloat as encoding/json does: only a
// number out of range comes out infinite, and is left to decodeSlow.
func number(v gjson.Result) (float64, bool) {
	return v.Num, v.Type == gjson.Number && !math.IsInf(v.Num, 0)
}

// pool reads the value of member QueryTime<pool>: as queryTimes does, an array of numbers, a
// single number, or null (a pool with no times).
func (d *decoder) pool(pool string, v gjson.Result) bool {
	start := len(d.names)
	d.names = append(d.names, pool...)
	if c := d.names[start]; 'A' <= c && c <= 'Z' {
		d.names[start] = c + 'a' - 'A'
	}
	name := d.names[start:len(d.names):len(d.names)]
	for _, p := range d.r.pools {
		if bytes.Equal(p.name, name) {
			// A repeated member, or QueryTimePrimary next to QueryTimeprimary: queryTimes'
			// answer depends on map order there, so leave it to that.
			return false
		}
	}
	first, ok := len(d.vals), true
	switch {
	case v.IsArray():
		v.ForEach(func(_, e gjson.Result) bool {
			x, isNum := number(e) // a null element stays 0, as json.Unmarshal leaves it
			ok = isNum || e.Type == gjson.Null
			d.vals = append(d.vals, x)
			return ok
		})
	case v.Type != gjson.Null:
		var x float64
		x, ok = number(v)
		d.vals = append(d.vals, x)
	}
	// d.vals may have moved since an earlier pool's times were sliced from it; the slices
	// stay valid (they keep the old array), and this one is cut from the current one.
	d.r.pools = append(d.r.pools, poolTimes{name: name, vals: d.vals[first:len(d.vals):len(d.vals)]})
	return ok
}

// emfLine is the part of a shared/metrics line the aggregator reads, as decodeSlow decodes it.
// QueryTime<Pool> members are found by name, as the pools are whatever the function used.
type emfLine struct {
	AWS         json.RawMessage `json:"_aws"`
	Function    string          `json:"function"`
	Route       string          `json:"route"`
	Method      string          `json:"method"`
	Status      int             `json:"status"`
	StatusClass string          `json:"statusClass"`
	DurationMS  float64         `json:"duration_ms"`
	ColdStart   bool            `json:"cold_start"`
	CacheHits   uint64          `json:"CacheHits"`
	CacheMisses uint64          `json:"CacheMisses"`
	CacheErrors uint64          `json:"CacheErrors"`
	Queries     uint64          `json:"Queries"`
}

// decodeSlow decodes body into d.r with encoding/json: the definition decodeFast follows.
func (d *decoder) decodeSlow(body []byte) outcome {
	var l emfLine
	if err := json.Unmarshal(body, &l); err != nil {
		return malformed
	}
	if len(l.AWS) == 0 || string(l.AWS) == "null" {
		return notEMF
	}
	pools, err := queryTimes(body)
	if err != nil {
		return notEMF
	}
	d.r = request{
		function: []byte(l.Function), route: []byte(l.Route), method: []byte(l.Method),
		statusClass: []byte(l.StatusClass), status: l.Status, durationMS: l.DurationMS,
		coldStart: l.ColdStart, cacheHits: l.CacheHits, cacheMisses: l.CacheMisses,
		cacheErrors: l.CacheErrors, queries: l.Queries, pools: d.r.pools[:0],
	}
	for name, vs := range pools {
		d.r.pools = append(d.r.pools, poolTimes{name: []byte(name), vals: vs})
	}
	return emf
}

// queryTimes returns the QueryTime<Pool> members by pool name ("Primary" -> "primary").
func queryTimes(body []byte) (map[string][]float64, error) {
	if !bytes.Contains(body, []byte(`"QueryTime`)) {
		return nil, nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(body, &all); err != nil {
		return nil, err
	}
	out := map[string][]float64{}
	for k, raw := range all {
		name, ok := strings.CutPrefix(k, "QueryTime")
		if !ok || name == "" {
			continue
		}
		var vs []float64
		if err := json.Unmarshal(raw, &vs); err != nil {
			// EMF allows a single number where an array is expected.
			var v float64
			if json.Unmarshal(raw, &v) != nil {
				continue
			}
			vs = []float64{v}
		}
		out[strings.ToLower(name[:1])+name[1:]] = vs
	}
	return out, nil
}
