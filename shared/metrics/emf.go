package metrics

import (
	"encoding/json"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
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

// Emit writes l as one line.
func (e *Emitter) Emit(l Line) error {
	b, err := e.Marshal(l)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err = e.w.Write(b)
	return err
}

// Marshal returns l's line, newline included.
//
// Two directives share the line: request metrics by (function, route, method, statusClass) and
// by function alone (so a dashboard can chart a function without summing routes), and the
// per-function cache, database and cold-start metrics, which a route dimension would only
// fragment.
func (e *Emitter) Marshal(l Line) ([]byte, error) {
	class := statusClass(l.Status)
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
	fnMetrics := []metricDef{{"CacheHits", "Count"}, {"CacheMisses", "Count"}, {"CacheErrors", "Count"}, {"Queries", "Count"}}
	r := l.Record
	m["CacheHits"], m["CacheMisses"], m["CacheErrors"], m["Queries"] = r.CacheHits, r.CacheMisses, r.CacheErrors, r.QueryCount
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
		name := "QueryTime" + title(p) // QueryTimePrimary, QueryTimeReplica
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

func statusClass(s int) string {
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
