// Package emf reads what the functions report about themselves, the one JSON line per request
// that shared/metrics writes with its CloudWatch Embedded Metric Format fields, from cmd/local's
// output, and what the gateway logs per invocation (cold starts, init time, instance), and sums
// them per measured window; and it reads the instances' memory from /proc.
//
// cmd/local passes every function process's output through to its stderr, each line prefixed
// with the function name and instance number ("local-projects[3] {...}"), and logs one JSON line
// of its own per invocation. At tens of thousands of requests a second that is tens of
// megabytes a second on a machine whose two cores also run the server, so the lines are not
// decoded with encoding/json but scanned, once each, for the few fields needed (shared/metrics
// writes them compactly, with keys in sorted order and unescaped); a line is decoded in full
// only when it matters (a cold start, an error).
package emf

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"math/bits"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Route is what one route's request lines add up to.
type Route struct {
	Requests int64
	Status   map[int]int64
	// Duration is the time inside the function (the adapter's request to response), in µs.
	Duration *hdrhistogram.Histogram
}

// Function is what one function's lines add up to in a window.
type Function struct {
	Requests    int64
	ColdStarts  int64
	CacheHits   int64
	CacheMisses int64
	CacheErrors int64
	Queries     int64
	// QueryMs sums query times by pool ("Primary", "Replica"); QueryN counts them.
	QueryMs   map[string]float64
	QueryN    map[string]int64
	Instances map[int]bool
	// InitMs are the init durations of the cold starts the gateway reported.
	InitMs []float64
	Routes map[string]*Route
}

// Window sums the lines whose request started between Start and End.
type Window struct {
	Name      string
	Start     time.Time
	End       time.Time // zero while open
	Functions map[string]*Function
}

func (w *Window) fn(name string) *Function {
	f := w.Functions[name]
	if f == nil {
		f = &Function{QueryMs: map[string]float64{}, QueryN: map[string]int64{}, Instances: map[int]bool{}, Routes: map[string]*Route{}}
		w.Functions[name] = f
	}
	return f
}

// Collector consumes cmd/local's output.
type Collector struct {
	mu      sync.Mutex
	windows []*Window
	last    time.Time // the latest request time seen
	lines   int64
	diag    io.Writer
	diagN   int64
	// failures counts the invocations the gateway reported as crashed or timed out.
	failures atomic.Int64
}

// Failures returns how many invocations so far the gateway reported as crashed (the function's
// process exited or failed its init) or timed out (killed at the function's timeout).
func (c *Collector) Failures() int64 { return c.failures.Load() }

// MaxDiagnostics bounds what Collector writes to its diagnostics writer.
const MaxDiagnostics = 16 << 20

// NewCollector returns a Collector; lines that are neither request lines nor per-invocation
// gateway lines (warnings, errors, start-up messages) and request lines of level ERROR go to
// diag, up to MaxDiagnostics bytes.
func NewCollector(diag io.Writer) *Collector {
	if diag == nil {
		diag = io.Discard
	}
	return &Collector{diag: diag}
}

// Begin opens a window from now; lines are matched by the request's own time.
func (c *Collector) Begin(name string, start time.Time) *Window {
	w := &Window{Name: name, Start: start, Functions: map[string]*Function{}}
	c.mu.Lock()
	c.windows = append(c.windows, w)
	c.mu.Unlock()
	return w
}

// End closes w at end and waits, up to wait, until a line of a request that started after end
// has arrived (or no more lines arrive), so that the lines still in the pipe are counted.
func (c *Collector) End(w *Window, end time.Time, wait time.Duration) {
	c.mu.Lock()
	w.End = end
	c.mu.Unlock()
	deadline := time.Now().Add(wait)
	prev := int64(-1)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		done, n := c.last.After(end), c.lines
		c.mu.Unlock()
		if done || n == prev {
			return
		}
		prev = n
		time.Sleep(50 * time.Millisecond)
	}
}

// Snapshot returns a copy of w's sums, safe to read while lines keep coming.
func (c *Collector) Snapshot(w *Window) *Window {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &Window{Name: w.Name, Start: w.Start, End: w.End, Functions: map[string]*Function{}}
	for name, f := range w.Functions {
		g := *f
		g.QueryMs, g.QueryN, g.Instances, g.Routes = map[string]float64{}, map[string]int64{}, map[int]bool{}, map[string]*Route{}
		for k, v := range f.QueryMs {
			g.QueryMs[k] = v
		}
		for k, v := range f.QueryN {
			g.QueryN[k] = v
		}
		for k := range f.Instances {
			g.Instances[k] = true
		}
		g.InitMs = append([]float64(nil), f.InitMs...)
		for k, r := range f.Routes {
			st := map[int]int64{}
			for s, n := range r.Status {
				st[s] = n
			}
			g.Routes[k] = &Route{Requests: r.Requests, Status: st, Duration: hdrhistogram.Import(r.Duration.Export())}
		}
		out.Functions[name] = &g
	}
	return out
}

// window returns the window t falls in, or nil; c.mu is held.
func (c *Collector) window(t time.Time) *Window {
	for i := len(c.windows) - 1; i >= 0; i-- {
		w := c.windows[i]
		if !t.Before(w.Start) && (w.End.IsZero() || !t.After(w.End)) {
			return w
		}
	}
	return nil
}

// Consume reads r (cmd/local's stderr) to its end, passing every line on to tee if set.
func (c *Collector) Consume(r io.Reader, tee io.Writer) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var long []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, line...)
			continue
		}
		if long != nil {
			line = append(long, line...)
			long = nil
		}
		if len(line) > 0 {
			if tee != nil {
				_, _ = tee.Write(line)
			}
			c.line(bytes.TrimRight(line, "\r\n"))
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// The substrings line and request look for. Each is found where bytes.Index would find it, the
// first occurrence in the line, but all of a line's in one pass (see patternSet).
const (
	pMsgRequest = iota
	pAWS
	pLevelError
	pLevelInfo
	pLevelDebug
	pTime
	pRoute
	pStatus
	pDuration
	pColdStart
	pCacheHits
	pCacheMisses
	pCacheErrors
	pQueries
	pQueryTimePrimary
	pQueryTimeReplica
	nFunctionPatterns
)

// functionPatterns are looked for in a function's output line.
var functionPatterns = newPatternSet(nFunctionPatterns, []string{
	pMsgRequest:       `"msg":"request"`,
	pAWS:              `"_aws"`,
	pLevelError:       `"level":"ERROR"`,
	pLevelInfo:        `"level":"INFO"`,
	pLevelDebug:       `"level":"DEBUG"`,
	pTime:             `"time":"`,
	pRoute:            `"route":"`,
	pStatus:           `"status":`,
	pDuration:         `"duration_ms":`,
	pColdStart:        `"cold_start":true`,
	pCacheHits:        `"CacheHits":`,
	pCacheMisses:      `"CacheMisses":`,
	pCacheErrors:      `"CacheErrors":`,
	pQueries:          `"Queries":`,
	pQueryTimePrimary: `"QueryTimePrimary":[`,
	pQueryTimeReplica: `"QueryTimeReplica":[`,
})

const (
	pMsgInvoke = iota
	pColdStartTrue
	pOutcomeOK
	pOutcomeCrash
	pOutcomeTimeout
	nGatewayPatterns
)

// gatewayPatterns are looked for in the gateway's own lines.
var gatewayPatterns = newPatternSet(nGatewayPatterns, []string{
	pMsgInvoke:      `"msg":"invoke"`,
	pColdStartTrue:  `"coldStart":true`,
	pOutcomeOK:      `"outcome":"ok"`,
	pOutcomeCrash:   `"outcome":"crash"`,
	pOutcomeTimeout: `"outcome":"timeout"`,
})

// line handles one line of cmd/local's output.
func (c *Collector) line(b []byte) {
	if fn, inst, rest, ok := prefixed(b); ok {
		var at [nFunctionPatterns]int
		functionPatterns.index(rest, at[:])
		if at[pMsgRequest] >= 0 && at[pAWS] >= 0 {
			c.request(fn, inst, rest, &at)
			if at[pLevelError] >= 0 {
				c.diagnose(b)
			}
			return
		}
		if at[pLevelInfo] < 0 && at[pLevelDebug] < 0 {
			c.diagnose(b)
		}
		return
	}
	if bytes.HasPrefix(b, []byte(`{"time":`)) {
		var at [nGatewayPatterns]int
		gatewayPatterns.index(b, at[:])
		if at[pMsgInvoke] >= 0 {
			if at[pColdStartTrue] >= 0 {
				c.coldStart(b)
			}
			if at[pOutcomeOK] < 0 {
				if at[pOutcomeCrash] >= 0 || at[pOutcomeTimeout] >= 0 {
					c.failures.Add(1)
				}
				c.diagnose(b)
			}
			return
		}
	}
	c.diagnose(b)
}

func (c *Collector) diagnose(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.diagN+int64(len(b)) > MaxDiagnostics {
		return
	}
	c.diagN += int64(len(b)) + 1
	_, _ = c.diag.Write(append(append([]byte(nil), b...), '\n'))
}

// prefixed splits "name[3] rest" as cmd/local's lambdaenv writes function output. The name
// stays in b: line looks it up as a map key without copying it.
func prefixed(b []byte) (fn []byte, inst int, rest []byte, ok bool) {
	sp := bytes.IndexByte(b, ' ')
	if sp < 4 || b[sp-1] != ']' {
		return nil, 0, nil, false
	}
	open := bytes.LastIndexByte(b[:sp], '[')
	if open < 1 {
		return nil, 0, nil, false
	}
	n, err := strconv.Atoi(string(b[open+1 : sp-1]))
	if err != nil {
		return nil, 0, nil, false
	}
	return b[:open], n, b[sp+1:], true
}

// request adds one request line; at holds where functionPatterns occur in it.
func (c *Collector) request(fn []byte, inst int, b []byte, at *[nFunctionPatterns]int) {
	t, err := time.Parse(time.RFC3339Nano, string(str(b, at, pTime)))
	if err != nil {
		return
	}
	route := str(b, at, pRoute)
	status := int(num(b, at, pStatus))
	dur := num(b, at, pDuration)
	cold := at[pColdStart] >= 0
	hits, misses, cerrs := int64(num(b, at, pCacheHits)), int64(num(b, at, pCacheMisses)), int64(num(b, at, pCacheErrors))
	queries := int64(num(b, at, pQueries))

	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines++
	if t.After(c.last) {
		c.last = t
	}
	w := c.window(t)
	if w == nil {
		return
	}
	f := w.Functions[string(fn)]
	if f == nil {
		f = w.fn(string(fn))
	}
	f.Requests++
	if cold {
		f.ColdStarts++
	}
	f.CacheHits += hits
	f.CacheMisses += misses
	f.CacheErrors += cerrs
	f.Queries += queries
	f.Instances[inst] = true
	for _, q := range [...]struct {
		pool    string
		pattern int
	}{{"Primary", pQueryTimePrimary}, {"Replica", pQueryTimeReplica}} {
		for v := range nums(b, at, q.pattern) {
			f.QueryMs[q.pool] += v
			f.QueryN[q.pool]++
		}
	}
	r := f.Routes[string(route)]
	if r == nil {
		r = &Route{Status: map[int]int64{}, Duration: hdrhistogram.New(1, 120_000_000, 2)}
		f.Routes[string(route)] = r
	}
	r.Requests++
	r.Status[status]++
	_ = r.Duration.RecordValue(max(int64(dur*1000), 1))
}

// coldStart adds the gateway's report of an invocation that started its instance.
func (c *Collector) coldStart(b []byte) {
	var l struct {
		Time     time.Time `json:"time"`
		Function string    `json:"function"`
		InitMs   float64   `json:"initMs"`
		Instance int       `json:"instance"`
	}
	if json.Unmarshal(b, &l) != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.window(l.Time); w != nil {
		f := w.fn("gateway:" + l.Function)
		f.InitMs = append(f.InitMs, l.InitMs)
		f.ColdStarts++
		f.Instances[l.Instance] = true
	}
}

// str returns the JSON string value after pattern k (no unescaping: the values read are times,
// routes and names, which shared/metrics never escapes), or nothing if k does not occur.
func str(b []byte, at *[nFunctionPatterns]int, k int) []byte {
	if at[k] < 0 {
		return nil
	}
	v := b[at[k]+len(functionPatterns.pats[k]):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return nil
	}
	return v[:j]
}

// num returns the JSON number after pattern k, or 0.
func num(b []byte, at *[nFunctionPatterns]int, k int) float64 {
	if at[k] < 0 {
		return 0
	}
	v := b[at[k]+len(functionPatterns.pats[k]):]
	j := 0
	for j < len(v) && (v[j] == '-' || v[j] == '.' || v[j] == 'e' || v[j] == 'E' || v[j] == '+' || v[j] >= '0' && v[j] <= '9') {
		j++
	}
	f, _ := strconv.ParseFloat(string(v[:j]), 64)
	return f
}

// nums yields the numbers of the JSON array whose opening bracket ends pattern k, skipping
// elements that are not numbers.
func nums(b []byte, at *[nFunctionPatterns]int, k int) iter.Seq[float64] {
	return func(yield func(float64) bool) {
		if at[k] < 0 {
			return
		}
		v := b[at[k]+len(functionPatterns.pats[k]):]
		j := bytes.IndexByte(v, ']')
		if j < 0 {
			return
		}
		for p := range bytes.SplitSeq(v[:j], []byte{','}) {
			if f, err := strconv.ParseFloat(string(bytes.TrimSpace(p)), 64); err == nil {
				if !yield(f) {
					return
				}
			}
		}
	}
}

// patternSet finds the first occurrence of each of a few substrings that all start with '"' in
// one pass over a line. Looking for each with bytes.Index scanned a request line (about a
// kilobyte, most of it the _aws directives) sixteen times over; here the line is walked once,
// from quote to quote, and only the patterns whose second byte follows a quote are compared.
type patternSet struct {
	pats     [][]byte
	bySecond [256]uint32 // the patterns (as bits) by their second byte
}

// newPatternSet returns the set of pats, n of them, which index reports by their position.
func newPatternSet(n int, pats []string) *patternSet {
	if len(pats) != n || n > 32 {
		panic("emf: pattern set of the wrong size")
	}
	ps := &patternSet{pats: make([][]byte, n)}
	for k, p := range pats {
		if len(p) < 2 || p[0] != '"' {
			panic("emf: bad pattern " + strconv.Quote(p))
		}
		ps.pats[k] = []byte(p)
		ps.bySecond[p[1]] |= 1 << k
	}
	return ps
}

// index sets at[k] to bytes.Index(b, pattern k) for every pattern.
func (ps *patternSet) index(b []byte, at []int) {
	for k := range at {
		at[k] = -1
	}
	left := uint32(1)<<len(ps.pats) - 1
	// A plain loop: quotes come every few bytes, too often for bytes.IndexByte to pay off.
	for i := 0; i+1 < len(b) && left != 0; i++ {
		if b[i] != '"' {
			continue
		}
		for m := ps.bySecond[b[i+1]] & left; m != 0; m &= m - 1 {
			k := bits.TrailingZeros32(m)
			if bytes.HasPrefix(b[i:], ps.pats[k]) {
				at[k] = i
				left &^= 1 << k
			}
		}
	}
}
