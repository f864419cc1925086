package metricsview

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Feed sees every line every function prints, and a request line is mostly its _aws
// directives, which Feed does not read. Decoding each line with json.Unmarshal (and once more
// into a map to find the QueryTime<Pool> members) cost tens of microseconds and a hundred
// allocations per request, on the goroutine that copies the function's output.
//
// decodeFast instead reads the members Feed uses in one pass over the line, building nothing,
// and gives up on whatever it does not handle exactly as encoding/json would: a syntax error,
// an escaped or non-ASCII member name, a name that would match a field only
// case-insensitively, a string field with an escape or invalid UTF-8, a number its field
// cannot hold, a value of another type, two QueryTime members for one pool. decodeSlow, the
// json.Unmarshal-based decoding, then decides. shared/metrics' lines never make decodeFast give
// up, so the gateway pays for one scan per request line while any other line is still judged
// as json.Unmarshal judges it; decode_test.go compares the two on edge cases and under
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
	// seenAWS holds _aws objects this decoder found valid, most recent first. A function's
	// _aws member is the same on nearly every line (it changes only with a cold start or
	// another set of pools), and it is most of the line: matching it against one seen before
	// replaces checking it token by token.
	seenAWS [4][]byte
}

// aws reads the _aws member's value and reports whether it was valid and whether it was an
// EMF directive (anything but null, as decodeSlow's json.RawMessage sees it).
//
// A value that starts with an object seen valid before is that object: an object ends at its
// own closing brace, whatever follows it.
func (d *decoder) aws(s *scanner) (ok, present bool) {
	rest := s.b[s.i:]
	for i, seen := range d.seenAWS {
		if len(seen) > 0 && bytes.HasPrefix(rest, seen) {
			if i > 0 {
				copy(d.seenAWS[1:i+1], d.seenAWS[:i])
				d.seenAWS[0] = seen
			}
			s.i += len(seen)
			return true, true
		}
	}
	start := s.i
	if !s.skip(0) {
		return false, false
	}
	v := s.b[start:s.i]
	if v[0] == '{' && len(v) <= maxSeenAWS {
		last := d.seenAWS[len(d.seenAWS)-1]
		copy(d.seenAWS[1:], d.seenAWS[:len(d.seenAWS)-1])
		d.seenAWS[0] = append(last[:0], v...)
	}
	return true, string(v) != "null"
}

// maxSeenAWS bounds the _aws objects a decoder keeps: shared/metrics writes well under 1 KiB.
const maxSeenAWS = 4 << 10

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

// foldsToField reports whether key, an ASCII name that is none of fieldNames, matches one of
// them case-insensitively, as json.Unmarshal would take it for that field.
func foldsToField(key []byte) bool {
	for _, f := range fieldNames {
		if len(f) != len(key) {
			continue
		}
		i := 0
		for ; i < len(f); i++ {
			a, b := key[i], f[i]
			if 'a' <= a && a <= 'z' {
				a -= 'a' - 'A'
			}
			if 'a' <= b && b <= 'z' {
				b -= 'a' - 'A'
			}
			if a != b {
				break
			}
		}
		if i == len(f) {
			return true
		}
	}
	return false
}

// maxDepth bounds the nesting decodeFast follows; deeper lines go to decodeSlow, which applies
// encoding/json's own limit.
const maxDepth = 64

// decodeFast decodes body, a whole JSON text, into d.r. See the comment at the top of the file.
func (d *decoder) decodeFast(body []byte) outcome {
	d.r = request{pools: d.r.pools[:0]}
	d.names, d.vals = d.names[:0], d.vals[:0]
	s := scanner{b: body}
	s.space()
	if !s.eat('{') {
		return unsure
	}
	hasAWS := false
	s.space()
	if s.eat('}') {
		return s.end(notEMF)
	}
	for {
		s.space()
		key, ok := s.key()
		if !ok {
			return unsure
		}
		s.space()
		if !s.eat(':') {
			return unsure
		}
		s.space()
		switch string(key) {
		case "_aws":
			ok, hasAWS = d.aws(&s)
		case "function":
			ok = s.str(&d.r.function)
		case "route":
			ok = s.str(&d.r.route)
		case "method":
			ok = s.str(&d.r.method)
		case "statusClass":
			ok = s.str(&d.r.statusClass)
		case "status":
			ok = s.int(&d.r.status)
		case "duration_ms":
			ok = s.float(&d.r.durationMS)
		case "cold_start":
			ok = s.bool(&d.r.coldStart)
		case "CacheHits":
			ok = s.uint(&d.r.cacheHits)
		case "CacheMisses":
			ok = s.uint(&d.r.cacheMisses)
		case "CacheErrors":
			ok = s.uint(&d.r.cacheErrors)
		case "Queries":
			ok = s.uint(&d.r.queries)
		default:
			if pool, isPool := bytes.CutPrefix(key, []byte("QueryTime")); isPool && len(pool) > 0 {
				ok = d.pool(&s, pool)
				break
			}
			if foldsToField(key) {
				return unsure
			}
			ok = s.skip(0)
		}
		if !ok {
			return unsure
		}
		s.space()
		if s.eat('}') {
			break
		}
		if !s.eat(',') {
			return unsure
		}
	}
	if !hasAWS {
		return s.end(notEMF)
	}
	return s.end(emf)
}

// pool reads the value of member QueryTime<pool>: as queryTimes does, an array of numbers, a
// single number, or null (a pool with no times).
func (d *decoder) pool(s *scanner, pool []byte) bool {
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
	first := len(d.vals)
	switch {
	case s.literal("null"):
		d.r.pools = append(d.r.pools, poolTimes{name: name})
		return true
	case s.eat('['):
		s.space()
		if !s.eat(']') {
			for {
				s.space()
				v := 0.0 // a null element stays 0, as json.Unmarshal leaves it
				if !s.literal("null") && !s.float(&v) {
					return false
				}
				d.vals = append(d.vals, v)
				s.space()
				if s.eat(']') {
					break
				}
				if !s.eat(',') {
					return false
				}
			}
		}
	default:
		var v float64
		if !s.float(&v) {
			return false
		}
		d.vals = append(d.vals, v)
	}
	// d.vals may have moved since an earlier pool's times were sliced from it; the slices
	// stay valid (they keep the old array), and this one is cut from the current one.
	d.r.pools = append(d.r.pools, poolTimes{name: name, vals: d.vals[first:len(d.vals):len(d.vals)]})
	return true
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

// scanner walks a JSON text. Its methods report false on anything decodeFast does not take,
// which is all invalid JSON and more.
type scanner struct {
	b []byte
	i int
}

// end returns o if only white space is left, and unsure (a syntax error) otherwise.
func (s *scanner) end(o outcome) outcome {
	s.space()
	if s.i != len(s.b) {
		return unsure
	}
	return o
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		if c := s.b[s.i]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return
		}
		s.i++
	}
}

// eat consumes c if it comes next.
func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// literal consumes lit (true, false or null) if it comes next.
func (s *scanner) literal(lit string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.i += len(lit)
		return true
	}
	return false
}

// plain marks the bytes a string holds as they are: neither a quote, a backslash nor a control
// character. Bytes from 0x80 are plain; whether they form valid UTF-8 is checked where it
// matters.
var plain = func() (t [256]bool) {
	for c := ' '; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// key reads a member name made of printable ASCII without escapes.
func (s *scanner) key() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	b, i := s.b, s.i
	for i < len(b) && plain[b[i]] && b[i] < utf8.RuneSelf {
		i++
	}
	if i == len(b) || b[i] != '"' {
		return nil, false
	}
	k := b[s.i:i]
	s.i = i + 1
	return k, true
}

// str reads a string member into *dst, or leaves *dst alone for null, as json.Unmarshal does.
// It takes only strings that decode to their own bytes: no escapes, valid UTF-8.
func (s *scanner) str(dst *[]byte) bool {
	if s.literal("null") {
		return true
	}
	if !s.eat('"') {
		return false
	}
	b, i := s.b, s.i
	for i < len(b) && plain[b[i]] {
		i++
	}
	if i == len(b) || b[i] != '"' {
		return false
	}
	v := b[s.i:i]
	if !utf8.Valid(v) {
		return false
	}
	*dst = v
	s.i = i + 1
	return true
}

// number returns the number token that comes next, checked against JSON's grammar.
func (s *scanner) number() ([]byte, bool) {
	b, start := s.b, s.i
	i := s.i
	digits := func() bool {
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false
		}
	}
	s.i = i
	return b[start:i], true
}

// int, uint and float read a number member as json.Unmarshal would into an int, a uint64 or a
// float64 (null leaves it alone); a number the type cannot hold is left to decodeSlow, which
// reports it.
func (s *scanner) int(dst *int) bool {
	if s.literal("null") {
		return true
	}
	tok, ok := s.number()
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	if err != nil {
		return false
	}
	*dst = int(n)
	return true
}

func (s *scanner) uint(dst *uint64) bool {
	if s.literal("null") {
		return true
	}
	tok, ok := s.number()
	if !ok {
		return false
	}
	n, err := strconv.ParseUint(string(tok), 10, 64)
	if err != nil {
		return false
	}
	*dst = n
	return true
}

func (s *scanner) float(dst *float64) bool {
	if s.literal("null") {
		return true
	}
	tok, ok := s.number()
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return false
	}
	*dst = f
	return true
}

func (s *scanner) bool(dst *bool) bool {
	switch {
	case s.literal("true"):
		*dst = true
	case s.literal("false"):
		*dst = false
	case s.literal("null"):
	default:
		return false
	}
	return true
}

// skip passes over any valid JSON value; depth is how deep in the line it lies.
func (s *scanner) skip(depth int) bool {
	if s.i >= len(s.b) || depth > maxDepth {
		return false
	}
	switch s.b[s.i] {
	case '"':
		return s.skipString()
	case '{':
		s.i++
		s.space()
		if s.eat('}') {
			return true
		}
		for {
			s.space()
			if s.i >= len(s.b) || s.b[s.i] != '"' || !s.skipString() {
				return false
			}
			s.space()
			if !s.eat(':') {
				return false
			}
			s.space()
			if !s.skip(depth + 1) {
				return false
			}
			s.space()
			if s.eat('}') {
				return true
			}
			if !s.eat(',') {
				return false
			}
		}
	case '[':
		s.i++
		s.space()
		if s.eat(']') {
			return true
		}
		for {
			s.space()
			if !s.skip(depth + 1) {
				return false
			}
			s.space()
			if s.eat(']') {
				return true
			}
			if !s.eat(',') {
				return false
			}
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		_, ok := s.number()
		return ok
	}
}

// skipString passes over a string, checking its escapes; any byte from 0x20 up is taken, as
// encoding/json takes invalid UTF-8 (replacing it when it decodes).
func (s *scanner) skipString() bool {
	b, i := s.b, s.i+1 // past the opening quote
	for {
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i == len(b) || b[i] < ' ' {
			return false
		}
		if b[i] == '"' {
			s.i = i + 1
			return true
		}
		// A backslash.
		if i+1 >= len(b) {
			return false
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(b) {
				return false
			}
			for _, h := range b[i+2 : i+6] {
				if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
					return false
				}
			}
			i += 6
		default:
			return false
		}
	}
}
