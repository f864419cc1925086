// Package report turns measured scenarios into the benchmark's report: a terminal table, a JSON
// document and an SVG chart, each figure beside the targets it answers to (the seed's, DESIGN.md's,
// issue 5's and issue 9's).
package report

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"scaleapi/cmd/loadgen/internal/emf"
	"scaleapi/cmd/loadgen/internal/load"
)

// Report is the whole benchmark.
type Report struct {
	Started    time.Time   `json:"started"`
	Finished   time.Time   `json:"finished"`
	Command    string      `json:"command"`
	BaseURL    string      `json:"baseUrl"`
	Machine    Machine     `json:"machine"`
	Data       Data        `json:"data"`
	ColdStarts []ColdStart `json:"coldStarts,omitempty"`
	Scenarios  []*Scenario `json:"scenarios"`
	Memory     []Memory    `json:"memory,omitempty"`
	Checks     []Check     `json:"checks"`
	Notes      []string    `json:"notes,omitempty"`
}

// Machine describes where the figures came from.
type Machine struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemoryMB int64  `json:"memoryMiB"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
}

// Data is the size of the seeded data set and how many users drove the load.
type Data struct {
	Organizations int `json:"organizations"`
	Users         int `json:"users"`
	Projects      int `json:"projects"`
	Tasks         int `json:"tasks"`
	LoggedIn      int `json:"loggedInUsers"`
}

// ColdStart is the first request a function ever served.
type ColdStart struct {
	Function string  `json:"function"`
	Route    string  `json:"route"`
	Status   int     `json:"status"`
	ClientMs float64 `json:"clientMs"` // as the client saw it: process start, init and the request
	InitMs   float64 `json:"initMs"`   // the init phase the gateway measured, process start to ready
}

// Memory is one function's instances after the runs.
type Memory struct {
	Function  string  `json:"function"`
	Instances int     `json:"instances"`
	MaxRSSMiB float64 `json:"maxRssMiB"` // the largest VmRSS of an instance, after the runs
	MaxHWMMiB float64 `json:"maxHwmMiB"` // the largest VmHWM (peak resident) of an instance
}

// Latency is a distribution's summary, in milliseconds.
type Latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// Endpoint is one endpoint's figures within a scenario.
type Endpoint struct {
	Name     string              `json:"name"`
	Requests int64               `json:"requests"`
	OK       int64               `json:"ok"`
	RPS      float64             `json:"rps"`
	Latency  Latency             `json:"latencyMs"`
	Errors   map[string]int64    `json:"errors,omitempty"`
	Samples  map[string][]string `json:"errorSamples,omitempty"`
}

// Route is one route's figures as the functions themselves reported them.
type Route struct {
	Function string           `json:"function"`
	Route    string           `json:"route"`
	Requests int64            `json:"requests"`
	Status   map[string]int64 `json:"status"`
	Latency  Latency          `json:"durationMs"` // inside the function, from its own log line
}

// Server is what the functions reported for a scenario's window.
type Server struct {
	Requests    int64              `json:"requests"`
	CacheHits   int64              `json:"cacheHits"`
	CacheMisses int64              `json:"cacheMisses"`
	CacheErrors int64              `json:"cacheErrors"`
	HitRate     *float64           `json:"cacheHitRate,omitempty"` // nil when no lookups
	Queries     int64              `json:"queries"`
	QueryAvgMs  *float64           `json:"queryAvgMs,omitempty"` // over every pool
	QueryAvgBy  map[string]float64 `json:"queryAvgMsByPool,omitempty"`
	ColdStarts  int64              `json:"coldStarts"`
	InitMs      []float64          `json:"initMs,omitempty"`
	Instances   map[string]int     `json:"instances"` // instances that served requests, by function
	Routes      []Route            `json:"routes"`
}

// Scenario is one measured scenario.
type Scenario struct {
	Name        string           `json:"name"`
	Title       string           `json:"title"`
	Mode        string           `json:"mode"`
	Concurrency int              `json:"concurrency,omitempty"`
	Rate        float64          `json:"rate,omitempty"`
	Seconds     float64          `json:"seconds"`
	Requests    int64            `json:"requests"`
	OK          int64            `json:"ok"`
	RPS         float64          `json:"rps"`
	OKRPS       float64          `json:"okRps"`
	Latency     Latency          `json:"latencyMs"`
	Errors      map[string]int64 `json:"errors,omitempty"`
	Late        int64            `json:"late,omitempty"`
	Unsent      int64            `json:"unsent,omitempty"`
	Endpoints   []Endpoint       `json:"endpoints"`
	Server      *Server          `json:"server,omitempty"`
	Seed        *SeedFigure      `json:"seed,omitempty"`
	Aim         float64          `json:"aimRps,omitempty"` // issue 5's throughput aim, where it sets one
	CPU         *CPU             `json:"cpu,omitempty"`
	Skipped     string           `json:"skipped,omitempty"`
}

// CPU is where the machine's CPU went during a scenario.
type CPU struct {
	Cores int     `json:"cores"`
	Busy  float64 `json:"busyCores"` // cores busy on average, every process and the kernel
	// ByGroup is cores used by functions, gateway (cmd/local), loadgen, postgres, pgbouncer,
	// redis and other (what no group claims: other users' processes, the kernel's own work).
	ByGroup map[string]float64 `json:"coresByGroup"`
	// PerRequestUs is ByGroup per successful request, in CPU microseconds.
	PerRequestUs map[string]float64 `json:"cpuUsPerRequest"`
}

// CPUOf summarises a usage over a scenario that served ok requests.
func CPUOf(u *emf.Usage, ok int64, seconds float64) *CPU {
	if u == nil {
		return nil
	}
	c := &CPU{Cores: u.Cores, Busy: round(u.Busy, 2), ByGroup: map[string]float64{}, PerRequestUs: map[string]float64{}}
	for g, v := range u.ByGroup {
		c.ByGroup[g] = round(v, 3)
		if ok > 0 {
			c.PerRequestUs[g] = round(v*seconds*1e6/float64(ok), 1)
		}
	}
	if ok > 0 {
		c.PerRequestUs["busy"] = round(u.Busy*seconds*1e6/float64(ok), 1)
	}
	return c
}

// SeedFigure is what the seed's NestJS implementation served for the same work (issue 5).
type SeedFigure struct {
	RPS   float64 `json:"rps"`
	P99Ms float64 `json:"p99Ms,omitempty"`
}

// Check is one figure against one target.
type Check struct {
	Source   string  `json:"source"` // seed, design, issue (5), issue 9
	Metric   string  `json:"metric"`
	Scenario string  `json:"scenario"`
	Target   string  `json:"target"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Pass     bool    `json:"pass"`
	Missing  bool    `json:"missing,omitempty"` // the scenario did not run or reported nothing
}

// FromResult summarises a load.Result and, when the functions' lines were collected, their
// window.
func FromResult(r *load.Result, w *emf.Window) *Scenario {
	sc := r.Scenario
	secs := r.Elapsed().Seconds()
	s := &Scenario{
		Name: sc.Name, Title: sc.Title, Seconds: round(secs, 2),
		Requests: r.Total.Count(), OK: r.Total.OK(),
		Latency: latency(r.Total.Hist), Errors: errs(r.Total),
		Late: r.Late, Unsent: r.Unsent,
	}
	if sc.Mode.Open() {
		s.Mode, s.Rate = "open", sc.Mode.Rate
	} else {
		s.Mode, s.Concurrency = "closed", sc.Mode.Concurrency
	}
	if secs > 0 {
		s.RPS, s.OKRPS = round(float64(s.Requests)/secs, 1), round(float64(s.OK)/secs, 1)
	}
	for _, op := range sc.Ops {
		st := r.Endpoints[op.Endpoint]
		if st == nil {
			continue
		}
		e := Endpoint{Name: op.Endpoint, Requests: st.Count(), OK: st.OK(), Latency: latency(st.Hist), Errors: errs(st)}
		if secs > 0 {
			e.RPS = round(float64(e.Requests)/secs, 1)
		}
		if len(st.Samples) > 0 {
			e.Samples = map[string][]string{}
			for k, v := range st.Samples {
				e.Samples[statusName(k)] = v
			}
		}
		s.Endpoints = append(s.Endpoints, e)
	}
	if w != nil {
		s.Server = server(w)
	}
	return s
}

func server(w *emf.Window) *Server {
	s := &Server{Instances: map[string]int{}, QueryAvgBy: map[string]float64{}}
	var qms float64
	var qn int64
	qBy, nBy := map[string]float64{}, map[string]int64{}
	for _, name := range slices.Sorted(maps.Keys(w.Functions)) {
		f := w.Functions[name]
		if strings.HasPrefix(name, "gateway:") {
			s.InitMs = append(s.InitMs, f.InitMs...)
			continue
		}
		s.Requests += f.Requests
		s.CacheHits += f.CacheHits
		s.CacheMisses += f.CacheMisses
		s.CacheErrors += f.CacheErrors
		s.Queries += f.Queries
		s.ColdStarts += f.ColdStarts
		s.Instances[name] = len(f.Instances)
		for p, v := range f.QueryMs {
			qBy[p] += v
			nBy[p] += f.QueryN[p]
			qms += v
			qn += f.QueryN[p]
		}
		for _, rt := range slices.Sorted(maps.Keys(f.Routes)) {
			r := f.Routes[rt]
			st := map[string]int64{}
			for k, v := range r.Status {
				st[strconv.Itoa(k)] = v
			}
			s.Routes = append(s.Routes, Route{Function: name, Route: rt, Requests: r.Requests, Status: st, Latency: latency(r.Duration)})
		}
	}
	if n := s.CacheHits + s.CacheMisses; n > 0 {
		v := round(float64(s.CacheHits)/float64(n), 4)
		s.HitRate = &v
	}
	if qn > 0 {
		v := round(qms/float64(qn), 3)
		s.QueryAvgMs = &v
	}
	for p, v := range qBy {
		s.QueryAvgBy[strings.ToLower(p)] = round(v/float64(nBy[p]), 3)
	}
	return s
}

func latency(h *hdrhistogram.Histogram) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(us int64) float64 { return round(float64(us)/1000, 3) }
	return Latency{
		Mean: round(h.Mean()/1000, 3),
		P50:  ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)),
		Max: ms(h.Max()),
	}
}

func errs(s *load.Stats) map[string]int64 {
	out := map[string]int64{}
	for st, n := range s.Status {
		if st < 200 || st >= 400 {
			out[strconv.Itoa(st)] = n
		}
	}
	if s.TransportErrors > 0 {
		out["transport"] = s.TransportErrors
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func statusName(st int) string {
	if st == 0 {
		return "transport"
	}
	return strconv.Itoa(st)
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}

// MemoryOf sums the instances by function.
func MemoryOf(insts []emf.Instance) []Memory {
	by := map[string]*Memory{}
	for _, in := range insts {
		m := by[in.Function]
		if m == nil {
			m = &Memory{Function: in.Function}
			by[in.Function] = m
		}
		m.Instances++
		m.MaxRSSMiB = max(m.MaxRSSMiB, round(float64(in.RSSKiB)/1024, 1))
		m.MaxHWMMiB = max(m.MaxHWMMiB, round(float64(in.HWMKiB)/1024, 1))
	}
	var out []Memory
	for _, k := range slices.Sorted(maps.Keys(by)) {
		out = append(out, *by[k])
	}
	return out
}

// ThisMachine describes the machine the process runs on.
func ThisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryMB = kb / 1024
		}
	}
	return m
}

// WriteJSON writes r to path, indented.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Find returns the scenario named name, or nil.
func (r *Report) Find(name string) *Scenario {
	for _, s := range r.Scenarios {
		if s.Name == name && s.Skipped == "" {
			return s
		}
	}
	return nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	k := slices.Collect(maps.Keys(m))
	sort.Strings(k)
	return k
}
