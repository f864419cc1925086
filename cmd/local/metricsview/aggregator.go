// Package metricsview shows, on a developer's machine, the metrics the functions report to
// CloudWatch: it reads the Embedded Metric Format lines the functions write to stdout (one per
// request, see shared/metrics), aggregates them, and serves them under /_local/ as Prometheus
// text (/_local/metrics), as JSON (/_local/metrics.json) and as a page with charts (/_local/).
//
// Two views of the same lines are kept: cumulative counters and fixed-bucket histograms since
// start, which is what Prometheus scrapes expect, and a ring of one-second slots over the last
// five minutes with sampled durations, from which the page draws rates and windowed percentiles
// (a percentile interpolated from cumulative buckets would say little about the last minute).
package metricsview

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// DurationBuckets are the request duration histogram's upper bounds in milliseconds.
var DurationBuckets = []float64{0.5, 1, 2, 5, 10, 25, 50, 100, 200, 500, 1000, 2500, 5000, 10000, 30000}

// QueryBuckets are the database query duration histogram's upper bounds in milliseconds; they
// start lower than DurationBuckets because a query on a warm pool takes a fraction of a
// millisecond.
var QueryBuckets = []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000}

const (
	// ringSeconds is how far back the page's charts reach.
	ringSeconds = 300
	// samplesPerSlot caps the durations one series keeps per second (a uniform sample beyond
	// that), so a load test cannot grow the window without bound.
	samplesPerSlot = 256
)

// requestKey identifies a request series, as EMF's (function, route, method, statusClass)
// dimension set does.
type requestKey struct {
	Function, Route, Method, StatusClass string
}

// poolKey identifies a database query series.
type poolKey struct {
	Function, Pool string
}

// histogram is a fixed-bucket histogram since start. counts[i] counts the observations in
// (bounds[i-1], bounds[i]], so an observation touches one bucket; the cumulative counts
// Prometheus wants are summed when written.
type histogram struct {
	bounds []float64
	counts []uint64
	count  uint64
	sum    float64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds))}
}

func (h *histogram) observe(v float64) {
	h.count++
	h.sum += v
	if i := sort.SearchFloat64s(h.bounds, v); i < len(h.bounds) {
		h.counts[i]++
	}
}

type requestStats struct {
	count, errors uint64
	duration      *histogram
}

type functionStats struct {
	requests, coldStarts                         uint64
	cacheHits, cacheMisses, cacheErrors, queries uint64
}

// sample is a uniform sample (reservoir) of one series' values within one slot.
type sample struct {
	n    int
	vals []float64
}

func (s *sample) add(v float64) {
	s.n++
	if len(s.vals) < samplesPerSlot {
		s.vals = append(s.vals, v)
		return
	}
	if j := rand.IntN(s.n); j < samplesPerSlot {
		s.vals[j] = v
	}
}

// slot holds what one second brought.
type slot struct {
	sec                               int64 // unix seconds; a slot with another second is stale
	requests, errors, coldStarts      int
	cacheHits, cacheMisses, cacheErrs int
	queries                           int
	routes                            map[string]*sample // by routeLabel
	pools                             map[string]*sample // by pool
	routeFunction                     map[string]string
}

// Aggregator accumulates the EMF lines fed to it. It is safe for concurrent use.
type Aggregator struct {
	mu        sync.Mutex
	now       func() time.Time
	start     time.Time
	lines     uint64 // EMF lines aggregated
	malformed uint64 // lines carrying _aws that did not decode
	requests  map[requestKey]*requestStats
	functions map[string]*functionStats
	queries   map[poolKey]*histogram
	ring      [ringSeconds]slot
}

// NewAggregator returns an empty Aggregator.
func NewAggregator() *Aggregator {
	return newAggregator(time.Now)
}

func newAggregator(now func() time.Time) *Aggregator {
	return &Aggregator{
		now: now, start: now(),
		requests:  map[requestKey]*requestStats{},
		functions: map[string]*functionStats{},
		queries:   map[poolKey]*histogram{},
	}
}

// emfLine is the part of a shared/metrics line the aggregator reads. QueryTime<Pool> members
// are found by name, as the pools are whatever the function used.
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

var awsMember = []byte(`"_aws"`)

// Feed aggregates line if it is an EMF line and reports whether it was. Anything else (plain
// log lines, JSON without _aws, a function's panic trace) is ignored. A line may carry a prefix
// before its JSON object, such as the "name[1] " lambdaenv puts in front of each line.
func (a *Aggregator) Feed(line []byte) bool {
	// Cheap tests first: most of what functions print is not a metrics line, and Feed runs on
	// the goroutine that copies a function's output.
	if !bytes.Contains(line, awsMember) {
		return false
	}
	i := bytes.IndexByte(line, '{')
	if i < 0 {
		return false
	}
	body := bytes.TrimSpace(line[i:])
	var l emfLine
	if err := json.Unmarshal(body, &l); err != nil || len(l.AWS) == 0 || string(l.AWS) == "null" {
		if err != nil {
			a.mu.Lock()
			a.malformed++
			a.mu.Unlock()
		}
		return false
	}
	pools, err := queryTimes(body)
	if err != nil {
		return false
	}
	a.add(&l, pools)
	return true
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

func (a *Aggregator) add(l *emfLine, pools map[string][]float64) {
	if l.Function == "" {
		l.Function = "unknown"
	}
	if l.StatusClass == "" {
		l.StatusClass = statusClass(l.Status)
	}
	isErr := l.Status >= 500
	now := a.now()

	a.mu.Lock()
	defer a.mu.Unlock()
	a.lines++

	rk := requestKey{l.Function, l.Route, l.Method, l.StatusClass}
	rs := a.requests[rk]
	if rs == nil {
		rs = &requestStats{duration: newHistogram(DurationBuckets)}
		a.requests[rk] = rs
	}
	rs.count++
	if isErr {
		rs.errors++
	}
	rs.duration.observe(l.DurationMS)

	fs := a.functions[l.Function]
	if fs == nil {
		fs = &functionStats{}
		a.functions[l.Function] = fs
	}
	fs.requests++
	if l.ColdStart {
		fs.coldStarts++
	}
	fs.cacheHits += l.CacheHits
	fs.cacheMisses += l.CacheMisses
	fs.cacheErrors += l.CacheErrors
	fs.queries += l.Queries

	for p, vs := range pools {
		pk := poolKey{l.Function, p}
		h := a.queries[pk]
		if h == nil {
			h = newHistogram(QueryBuckets)
			a.queries[pk] = h
		}
		for _, v := range vs {
			h.observe(v)
		}
	}

	s := a.slotFor(now.Unix())
	s.requests++
	if isErr {
		s.errors++
	}
	if l.ColdStart {
		s.coldStarts++
	}
	s.cacheHits += int(l.CacheHits)
	s.cacheMisses += int(l.CacheMisses)
	s.cacheErrs += int(l.CacheErrors)
	s.queries += int(l.Queries)
	label := routeLabel(l.Method, l.Route)
	rsm := s.routes[label]
	if rsm == nil {
		rsm = &sample{}
		s.routes[label] = rsm
		s.routeFunction[label] = l.Function
	}
	rsm.add(l.DurationMS)
	for p, vs := range pools {
		psm := s.pools[p]
		if psm == nil {
			psm = &sample{}
			s.pools[p] = psm
		}
		for _, v := range vs {
			psm.add(v)
		}
	}
}

// slotFor returns the slot of second sec, emptied if it held an older second. Called with mu.
func (a *Aggregator) slotFor(sec int64) *slot {
	s := &a.ring[int(sec%ringSeconds)]
	if s.sec != sec {
		*s = slot{sec: sec, routes: map[string]*sample{}, pools: map[string]*sample{}, routeFunction: map[string]string{}}
	}
	return s
}

// routeLabel names a route for the page. shared/api's routes are ServeMux patterns that already
// start with the method ("GET /projects/{id}"); others get it prefixed.
func routeLabel(method, route string) string {
	if route == "" {
		route = "unmatched"
	}
	if method == "" || strings.HasPrefix(route, method+" ") {
		return route
	}
	return method + " " + route
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

// Writer returns an io.Writer that passes everything to out and feeds each line to a. It is
// meant for lambdaenv's Output (gateway.Config.FunctionOutput), which writes one whole,
// prefixed line per Write from many goroutines; it is safe for concurrent use if out is.
func (a *Aggregator) Writer(out io.Writer) io.Writer {
	return &teeWriter{out: out, agg: a}
}

type teeWriter struct {
	out io.Writer
	agg *Aggregator
}

// Write writes b to out first, so the terminal shows the line even if it is not an EMF line,
// then feeds its lines. Lines without a trailing newline are fed as they are: lambdaenv writes
// whole lines, and holding a partial line back would need per-instance state this writer does
// not have.
func (t *teeWriter) Write(b []byte) (int, error) {
	n, err := t.out.Write(b)
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > 0 {
			t.agg.Feed(line)
		}
	}
	return n, err
}
