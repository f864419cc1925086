package metrics

import (
	"encoding/json"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Line is what one request reports: its log fields and its measurements.
type Line struct {
	Time      time.Time
	RequestID string
	Method    string
	Route     string // the route pattern, e.g. "GET /projects/{id}", never the raw path
	Status    int
	Duration  time.Duration
	ColdStart bool
	Error     string // the cause of a 5xx, for the log only
	UserID    string
	Record    Snapshot
}

// Emitter writes Lines as JSON log lines carrying EMF metadata.
type Emitter struct {
	mu        sync.Mutex
	w         io.Writer
	namespace string
	function  string
}

// NewEmitter returns an Emitter writing to w (stdout in Lambda) for function in namespace.
func NewEmitter(w io.Writer, namespace, function string) *Emitter {
	return &Emitter{w: w, namespace: namespace, function: function}
}

// Emit writes l as one line.
func (e *Emitter) Emit(l Line) error {
	bp := linePool.Get().(*[]byte)
	b, err := e.AppendLine((*bp)[:0], l)
	if err == nil {
		e.mu.Lock()
		_, err = e.w.Write(b)
		e.mu.Unlock()
	}
	// An io.Writer must not retain what it is given, so the buffer can serve the next line;
	// one grown by an unusually long error message is left to the garbage collector instead.
	if cap(b) <= maxPooledLine {
		*bp = b
		linePool.Put(bp)
	}
	return err
}

// linePool holds the buffers Emit marshals into, so a warm function writes its lines without
// allocating.
var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledLine is the largest buffer Emit keeps for reuse.
const maxPooledLine = 64 << 10

// Marshal returns l's line, newline included.
func (e *Emitter) Marshal(l Line) ([]byte, error) {
	return e.AppendLine(make([]byte, 0, 1536), l)
}

// AppendLine appends l's line, newline included, to dst and returns the extended slice. On
// error (a query time that is NaN or infinite, which JSON cannot carry) it returns dst
// unchanged and the error.
//
// Two directives share the line: request metrics by (function, route, method, statusClass) and
// by function alone (so a dashboard can chart a function without summing routes), and the
// per-function cache, database and cold-start metrics, which a route dimension would only
// fragment.
//
// The line is written member by member rather than through encoding/json, which would need a
// map (and its sorting and boxing) for the dynamic QueryTime<Pool> members. The output is byte
// for byte what json.Marshal of that map gives: members in sorted key order, numbers and
// string escaping (HTML-safe, invalid UTF-8 replaced) as encoding/json writes them. Readers
// rely on it: cmd/loadgen scans these lines for fixed substrings such as "cold_start":true.
// emf_test.go checks the equivalence against a map-based reference.
func (e *Emitter) AppendLine(dst []byte, l Line) ([]byte, error) {
	r := l.Record

	// The pools' members and metrics. A pool's metric name is "QueryTime" and its name with
	// the first letter upper-cased; two pools may map to one name (only in a hand-made
	// Snapshot), in which case, as with a map, the member holds the later pool's values while
	// the directive lists the name twice.
	var poolBuf [4]poolMetric
	pools := poolBuf[:0]
	for p, vs := range r.Queries {
		pools = append(pools, poolMetric{pool: p, name: queryTimeName(p), vals: vs})
	}
	if len(pools) > 1 {
		slices.SortFunc(pools, func(a, b poolMetric) int { return strings.Compare(a.pool, b.pool) })
	}
	// members is pools in key order; a stable sort keeps pool order among equal names, so the
	// last of each run is the one a map would have kept.
	var memberBuf [4]poolMetric
	members := append(memberBuf[:0], pools...)
	if len(members) > 1 {
		slices.SortStableFunc(members, func(a, b poolMetric) int { return strings.Compare(a.name, b.name) })
	}

	start := len(dst)
	b := dst
	b = append(b, `{"CacheErrors":`...)
	b = strconv.AppendInt(b, int64(r.CacheErrors), 10)
	b = append(b, `,"CacheHits":`...)
	b = strconv.AppendInt(b, int64(r.CacheHits), 10)
	b = append(b, `,"CacheMisses":`...)
	b = strconv.AppendInt(b, int64(r.CacheMisses), 10)
	b = append(b, `,"ClientErrors":`...)
	b = strconv.AppendInt(b, int64(b2i(l.Status >= 400 && l.Status < 500)), 10)
	if l.ColdStart {
		b = append(b, `,"ColdStarts":1`...)
	}
	b = append(b, `,"DatabaseCalls":`...)
	b = strconv.AppendInt(b, int64(r.DatabaseCalls), 10)
	dur := ms(l.Duration)
	b = append(b, `,"Duration":`...)
	b = appendFloat(b, dur)
	b = append(b, `,"Errors":`...)
	b = strconv.AppendInt(b, int64(b2i(l.Status >= 500)), 10)
	b = append(b, `,"Queries":`...)
	b = strconv.AppendInt(b, int64(r.QueryCount), 10)
	for i, m := range members {
		if i+1 < len(members) && members[i+1].name == m.name {
			continue // a later pool of the same name wins
		}
		b = append(b, ',')
		b = appendString(b, m.name)
		b = append(b, ':')
		if m.vals == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, '[')
		for j, v := range m.vals {
			if j > 0 {
				b = append(b, ',')
			}
			if math.IsInf(v, 0) || math.IsNaN(v) {
				return dst[:start], &json.UnsupportedValueError{Value: reflect.ValueOf(v), Str: strconv.FormatFloat(v, 'g', -1, 64)}
			}
			b = appendFloat(b, v)
		}
		b = append(b, ']')
	}
	b = append(b, `,"RedisCalls":`...)
	b = strconv.AppendInt(b, int64(r.RedisCalls), 10)
	b = append(b, `,"Requests":1,"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, l.Time.UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":`...)
	b = appendString(b, e.namespace)
	b = append(b, `,"Dimensions":[["function","route","method","statusClass"],["function"]],"Metrics":[`+
		`{"Name":"Duration","Unit":"Milliseconds"},{"Name":"Requests","Unit":"Count"},`+
		`{"Name":"Errors","Unit":"Count"},{"Name":"ClientErrors","Unit":"Count"}]},{"Namespace":`...)
	b = appendString(b, e.namespace)
	b = append(b, `,"Dimensions":[["function"]],"Metrics":[{"Name":"CacheHits","Unit":"Count"},`+
		`{"Name":"CacheMisses","Unit":"Count"},{"Name":"CacheErrors","Unit":"Count"},{"Name":"Queries","Unit":"Count"},`+
		`{"Name":"RedisCalls","Unit":"Count"},{"Name":"DatabaseCalls","Unit":"Count"}`...)
	if l.ColdStart {
		b = append(b, `,{"Name":"ColdStarts","Unit":"Count"}`...)
	}
	for _, p := range pools {
		b = append(b, `,{"Name":`...)
		b = appendString(b, p.name)
		b = append(b, `,"Unit":"Milliseconds"}`...)
	}
	b = append(b, `]}]},"cold_start":`...)
	b = strconv.AppendBool(b, l.ColdStart)
	b = append(b, `,"duration_ms":`...)
	b = appendFloat(b, dur)
	level := "INFO"
	if l.Error != "" {
		level = "ERROR"
		b = append(b, `,"error":`...)
		b = appendString(b, l.Error)
	}
	b = append(b, `,"function":`...)
	b = appendString(b, e.function)
	b = append(b, `,"level":"`...)
	b = append(b, level...)
	b = append(b, `","method":`...)
	b = appendString(b, l.Method)
	b = append(b, `,"msg":"request","requestId":`...)
	b = appendString(b, l.RequestID)
	b = append(b, `,"route":`...)
	b = appendString(b, l.Route)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(l.Status), 10)
	b = append(b, `,"statusClass":"`...)
	b = append(b, StatusClass(l.Status)...)
	// RFC 3339 output is digits, '-', '+', ':', '.', 'T' and 'Z': nothing to escape.
	b = append(b, `","time":"`...)
	b = l.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if l.UserID != "" {
		b = append(b, `,"userId":`...)
		b = appendString(b, l.UserID)
	}
	b = append(b, "}\n"...)
	return b, nil
}

// poolMetric is one pool's QueryTime member.
type poolMetric struct {
	pool, name string
	vals       []float64
}

// queryTimeName returns pool's metric name, QueryTimePrimary for "primary". The pools
// shared/platform opens have constant names, which keeps the common case free of allocation.
func queryTimeName(pool string) string {
	switch pool {
	case "primary":
		return "QueryTimePrimary"
	case "replica":
		return "QueryTimeReplica"
	}
	return "QueryTime" + title(pool)
}

// appendFloat appends f as encoding/json writes a float64: like strconv's shortest 'f' form,
// switching to an exponent (without zero padding) below 1e-6 and from 1e21 on, as ECMAScript
// does. f must be finite.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendString appends s as a JSON string the way encoding/json's Marshal writes it: '"' and
// '\\' escaped, control characters as \n, \t, ... or \u00XX, '<', '>' and '&' as \u003c, \u003e
// and \u0026 (HTML-safe), U+2028 and U+2029 escaped for JSONP, and each byte of invalid UTF-8
// as \ufffd. Requests carry client-chosen text (a request ID header, an error message), so none
// of it may break the line or the JSON.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				// Other control characters, and '<', '>' and '&'.
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// htmlSafe reports the ASCII bytes a JSON string holds as they are: printable ones other than
// '"', '\\', '<', '>' and '&'.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// StatusClass is the statusClass dimension of an HTTP status: "2xx" to "5xx" (below 300
// counts as 2xx). cmd/local's metrics view derives it with this for lines that lack one.
func StatusClass(s int) string {
	switch {
	case s >= 500:
		return "5xx"
	case s >= 400:
		return "4xx"
	case s >= 300:
		return "3xx"
	default:
		return "2xx"
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
