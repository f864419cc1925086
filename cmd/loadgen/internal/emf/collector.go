// Package emf reads what the functions report about themselves, the one JSON line per request
// that shared/metrics writes with its CloudWatch Embedded Metric Format fields, from cmd/local's
// output, and what the gateway logs per invocation (cold starts, init time, instance), and sums
// them per measured window; and it reads the instances' memory from /proc.
//
// cmd/local passes every function process's output through to its stderr, each line prefixed
// with the function name and instance number ("local-projects[3] {...}"), and logs one JSON line
// of its own per invocation. At tens of thousands of requests a second that is tens of
// megabytes a second on a machine whose two cores also run the server, so the lines are not
// decoded with encoding/json but scanned for the few fields needed (shared/metrics marshals a
// map, so keys come sorted and unescaped); a line is decoded in full only when it matters
// (a cold start, an error).
package emf

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
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
}

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

// line handles one line of cmd/local's output.
func (c *Collector) line(b []byte) {
	if fn, inst, rest, ok := prefixed(b); ok {
		if bytes.Contains(rest, []byte(`"msg":"request"`)) && bytes.Contains(rest, []byte(`"_aws"`)) {
			c.request(fn, inst, rest)
			if bytes.Contains(rest, []byte(`"level":"ERROR"`)) {
				c.diagnose(b)
			}
			return
		}
		if !bytes.Contains(rest, []byte(`"level":"INFO"`)) && !bytes.Contains(rest, []byte(`"level":"DEBUG"`)) {
			c.diagnose(b)
		}
		return
	}
	if bytes.HasPrefix(b, []byte(`{"time":`)) && bytes.Contains(b, []byte(`"msg":"invoke"`)) {
		if bytes.Contains(b, []byte(`"coldStart":true`)) {
			c.coldStart(b)
		}
		if !bytes.Contains(b, []byte(`"outcome":"ok"`)) {
			c.diagnose(b)
		}
		return
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

// prefixed splits "name[3] rest" as cmd/local's lambdaenv writes function output.
func prefixed(b []byte) (fn string, inst int, rest []byte, ok bool) {
	sp := bytes.IndexByte(b, ' ')
	if sp < 4 || b[sp-1] != ']' {
		return "", 0, nil, false
	}
	open := bytes.LastIndexByte(b[:sp], '[')
	if open < 1 {
		return "", 0, nil, false
	}
	n, err := strconv.Atoi(string(b[open+1 : sp-1]))
	if err != nil {
		return "", 0, nil, false
	}
	return string(b[:open]), n, b[sp+1:], true
}

// request adds one request line.
func (c *Collector) request(fn string, inst int, b []byte) {
	t, err := time.Parse(time.RFC3339Nano, str(b, `"time":"`))
	if err != nil {
		return
	}
	route := str(b, `"route":"`)
	status := int(num(b, `"status":`))
	dur := num(b, `"duration_ms":`)
	cold := bytes.Contains(b, []byte(`"cold_start":true`))
	hits, misses, cerrs := int64(num(b, `"CacheHits":`)), int64(num(b, `"CacheMisses":`)), int64(num(b, `"CacheErrors":`))
	queries := int64(num(b, `"Queries":`))

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
	f := w.fn(fn)
	f.Requests++
	if cold {
		f.ColdStarts++
	}
	f.CacheHits += hits
	f.CacheMisses += misses
	f.CacheErrors += cerrs
	f.Queries += queries
	f.Instances[inst] = true
	for _, pool := range []string{"Primary", "Replica"} {
		for _, v := range nums(b, `"QueryTime`+pool+`":[`) {
			f.QueryMs[pool] += v
			f.QueryN[pool]++
		}
	}
	r := f.Routes[route]
	if r == nil {
		r = &Route{Status: map[int]int64{}, Duration: hdrhistogram.New(1, 120_000_000, 2)}
		f.Routes[route] = r
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

// str returns the JSON string value after key (no unescaping: the values read are times,
// routes and names, which shared/metrics never escapes).
func str(b []byte, key string) string {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return ""
	}
	v := b[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return ""
	}
	return string(v[:j])
}

// num returns the JSON number after key, or 0.
func num(b []byte, key string) float64 {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0
	}
	v := b[i+len(key):]
	j := 0
	for j < len(v) && (v[j] == '-' || v[j] == '.' || v[j] == 'e' || v[j] == 'E' || v[j] == '+' || v[j] >= '0' && v[j] <= '9') {
		j++
	}
	f, _ := strconv.ParseFloat(string(v[:j]), 64)
	return f
}

// nums returns the numbers of the JSON array whose opening bracket ends key.
func nums(b []byte, key string) []float64 {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil
	}
	v := b[i+len(key):]
	j := bytes.IndexByte(v, ']')
	if j < 0 {
		return nil
	}
	var out []float64
	for _, p := range bytes.Split(v[:j], []byte{','}) {
		if f, err := strconv.ParseFloat(string(bytes.TrimSpace(p)), 64); err == nil {
			out = append(out, f)
		}
	}
	return out
}
