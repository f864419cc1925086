package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// Costs are what `make bench-lambda` measured, per invocation: the median of each row's runs
// (it runs -count 3), so that one disturbed run on a shared machine does not move the plan.
type Costs struct {
	Source  string
	Machine string // goos/goarch and cpu, as the report's header gives them
	Runs    int    // the fewest runs of any row the plan uses
	Routes  map[string]RouteCost
	// Loop is the Runtime API exchange (aws-lambda-go's next/response) around a handler that
	// does nothing: what every invocation adds in Lambda to the handler's own cost.
	Loop       RouteCost
	ColdStarts map[string]ColdStart // by function logical id; empty when the report has none
}

// RouteCost is one route's BenchmarkInvoke row.
type RouteCost struct {
	WallUs     float64 // ns/op: mean wall time of an invocation
	CPUUs      float64 // cpu-µs/op: process CPU of an invocation (handler, GC, clients)
	PGTrips    float64 // pg-trips/op
	RedisTrips float64 // redis-trips/op
}

// ColdStart is one function's BenchmarkColdStart row.
type ColdStart struct {
	InitMs       float64
	MaxMemoryMiB float64
}

// The benchmark rows the parser reads and the units each must carry.
const (
	invokeBench    = "Invoke"
	runtimeBench   = "RuntimeAPI"
	coldStartBench = "ColdStart"
	loopRow        = "loop"
)

var (
	invokeUnits = []string{"sec/op", "cpu-µs/op", "pg-trips/op", "redis-trips/op"}
	loopUnits   = []string{"cpu-µs/op"}
	coldUnits   = []string{"init-ms", "max-memory-MiB"}
)

// readCosts parses the Go benchmark text at path and checks that it has every route in need
// (and the Runtime API loop), naming all that are missing at once.
func readCosts(path string, need []string) (*Costs, error) {
	f, err := os.Open(path) // #nosec G304 -- the developer's own bench report (-report)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist: run `make bench-lambda` first, or pass -report %s for the committed sample", path, sampleReport)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseCosts(f, path, need)
}

// sampleReport is a real `make bench-lambda` report kept with the command, for its tests and
// for a plan before any benchmark has run here.
const sampleReport = "cmd/plan/testdata/lambda-bench.txt"

func parseCosts(r io.Reader, name string, need []string) (*Costs, error) {
	// runs[bench][row][unit] are the values of each run, in file order.
	runs := map[string]map[string]map[string][]float64{}
	c := &Costs{Source: name, Routes: map[string]RouteCost{}, ColdStarts: map[string]ColdStart{}}
	br := benchfmt.NewReader(r, name)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			return nil, rec
		case *benchfmt.Result:
			if c.Machine == "" {
				c.Machine = strings.TrimSpace(rec.GetConfig("goos") + "/" + rec.GetConfig("goarch") + ", " + rec.GetConfig("cpu"))
			}
			base, row := rowName(rec.Name)
			if runs[base] == nil {
				runs[base] = map[string]map[string][]float64{}
			}
			if runs[base][row] == nil {
				runs[base][row] = map[string][]float64{}
			}
			for _, v := range rec.Values {
				runs[base][row][v.Unit] = append(runs[base][row][v.Unit], v.Value)
			}
		}
	}
	if err := br.Err(); err != nil {
		return nil, err
	}

	var missing []string
	c.Runs = -1
	// row returns the medians of a row's units, or notes it as missing.
	row := func(bench, name string, units []string) ([]float64, bool) {
		m, lacks := medians(runs[bench][name], units)
		if lacks == nil {
			c.Runs = minRuns(c.Runs, runs[bench][name], units)
			return m, true
		}
		what := "Benchmark" + bench + "/" + name
		if _, ok := runs[bench][name]; ok {
			what += " (no " + strings.Join(lacks, ", ") + ")"
		}
		missing = append(missing, what)
		return nil, false
	}
	for _, route := range need {
		if m, ok := row(invokeBench, route, invokeUnits); ok {
			c.Routes[route] = RouteCost{WallUs: m[0] * 1e6, CPUUs: m[1], PGTrips: m[2], RedisTrips: m[3]}
		}
	}
	if m, ok := row(runtimeBench, loopRow, loopUnits); ok {
		c.Loop = RouteCost{CPUUs: m[0]}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s lacks %s: a report of `make bench-lambda` has one row per route (BenchmarkInvoke/<route>) and BenchmarkRuntimeAPI/loop", name, strings.Join(missing, ", "))
	}
	// Cold starts are shown beside the plan, not computed with, so a report without them is
	// still a plan.
	for fn, vals := range runs[coldStartBench] {
		if m, lacks := medians(vals, coldUnits); lacks == nil {
			c.ColdStarts[fn] = ColdStart{InitMs: m[0], MaxMemoryMiB: m[1]}
		}
	}
	return c, nil
}

// medians returns the median of each unit's runs, or the units that have none (nil when all do).
func medians(vals map[string][]float64, units []string) ([]float64, []string) {
	out := make([]float64, len(units))
	var lacks []string
	for i, u := range units {
		if len(vals[u]) == 0 {
			lacks = append(lacks, u)
			continue
		}
		out[i] = medianOf(vals[u])
	}
	return out, lacks
}

// minRuns is the fewer of n (-1 for none yet) and the runs of a row's units.
func minRuns(n int, vals map[string][]float64, units []string) int {
	for _, u := range units {
		if n < 0 || len(vals[u]) < n {
			n = len(vals[u])
		}
	}
	return n
}

// rowName splits a result's name into its benchmark ("Invoke") and its sub-benchmark path
// ("projects/get-cached"), without the -GOMAXPROCS suffix.
func rowName(n benchfmt.Name) (bench, row string) {
	base, parts := n.Parts()
	var b strings.Builder
	for _, p := range parts {
		if p[0] == '/' {
			b.Write(p)
		}
	}
	return string(base), strings.TrimPrefix(b.String(), "/")
}

func medianOf(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// mixScenario is the `make bench` scenario whose cache hit rate stands for the default mix: the
// mix at 32 concurrent requests, the figure the README holds against the seed's > 90 %.
const mixScenario = "mix-c32"

// readHitRate returns the cache hit rate `make bench` measured on the mix, from its report.json;
// ok is false when there is no such file or it has no such figure.
func readHitRate(path string) (rate float64, ok bool, _ error) {
	data, err := os.ReadFile(path) // #nosec G304 -- the developer's own bench report (-bench-json)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	var rep struct {
		Scenarios []struct {
			Name   string `json:"name"`
			Server *struct {
				HitRate *float64 `json:"cacheHitRate"`
			} `json:"server"`
		} `json:"scenarios"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return 0, false, fmt.Errorf("%s: %w", path, err)
	}
	for _, s := range rep.Scenarios {
		if s.Name == mixScenario && s.Server != nil && s.Server.HitRate != nil {
			return *s.Server.HitRate, true, nil
		}
	}
	return 0, false, nil
}
