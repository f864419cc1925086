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
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"scaleapi/shared/metrics"
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
	if j := rand.IntN(s.n); j < samplesPerSlot { // #nosec G404 -- reservoir sampling for the local metrics view: uniform, not secret
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
	names     map[string]string // see intern
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
		names:     map[string]string{},
	}
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
	d := decoders.Get().(*decoder)
	defer d.put()
	o := d.decodeFast(body)
	if o == unsure {
		o = d.decodeSlow(body)
	}
	switch o {
	case emf:
		a.add(&d.r)
		return true
	case malformed:
		a.mu.Lock()
		a.malformed++
		a.mu.Unlock()
	}
	return false
}

// intern returns b as a string, the same string for the same bytes. The names a line carries
// (function, route, method, status class, pool) end up as map keys, and nearly always as keys
// that are already there: looking them up by their bytes costs no allocation, and only a name
// seen for the first time is copied. Every name interned is also a key of a.requests or
// a.queries, so the table grows no further than they do. Called with mu.
func (a *Aggregator) intern(b []byte) string {
	if s, ok := a.names[string(b)]; ok {
		return s
	}
	s := string(b)
	a.names[s] = s
	return s
}

func (a *Aggregator) add(r *request) {
	now := a.now()

	a.mu.Lock()
	defer a.mu.Unlock()
	function := a.intern(r.function)
	if function == "" {
		function = "unknown"
	}
	route, method := a.intern(r.route), a.intern(r.method)
	class := a.intern(r.statusClass)
	if class == "" {
		class = metrics.StatusClass(r.status)
	}
	isErr := r.status >= 500
	a.lines++

	rk := requestKey{function, route, method, class}
	rs := a.requests[rk]
	if rs == nil {
		rs = &requestStats{duration: newHistogram(DurationBuckets)}
		a.requests[rk] = rs
	}
	rs.count++
	if isErr {
		rs.errors++
	}
	rs.duration.observe(r.durationMS)

	fs := a.functions[function]
	if fs == nil {
		fs = &functionStats{}
		a.functions[function] = fs
	}
	fs.requests++
	if r.coldStart {
		fs.coldStarts++
	}
	fs.cacheHits += r.cacheHits
	fs.cacheMisses += r.cacheMisses
	fs.cacheErrors += r.cacheErrors
	fs.queries += r.queries

	s := a.slotFor(now.Unix())
	s.requests++
	if isErr {
		s.errors++
	}
	if r.coldStart {
		s.coldStarts++
	}
	// One request's counts, a handful each, from the functions' own metrics line: far below
	// int's range.
	s.cacheHits += int(r.cacheHits)     // #nosec G115 -- one request's count, see above
	s.cacheMisses += int(r.cacheMisses) // #nosec G115 -- one request's count, see above
	s.cacheErrs += int(r.cacheErrors)   // #nosec G115 -- one request's count, see above
	s.queries += int(r.queries)         // #nosec G115 -- one request's count, see above
	label := routeLabel(method, route)
	rsm := s.routes[label]
	if rsm == nil {
		rsm = &sample{}
		s.routes[label] = rsm
		s.routeFunction[label] = function
	}
	rsm.add(r.durationMS)

	for _, p := range r.pools {
		pool := a.intern(p.name)
		pk := poolKey{function, pool}
		h := a.queries[pk]
		if h == nil {
			h = newHistogram(QueryBuckets)
			a.queries[pk] = h
		}
		psm := s.pools[pool]
		if psm == nil {
			psm = &sample{}
			s.pools[pool] = psm
		}
		for _, v := range p.vals {
			h.observe(v)
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
