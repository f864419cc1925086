package report

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"scaleapi/cmd/loadgen/internal/emf"
	"scaleapi/cmd/loadgen/internal/load"
)

func stats(status int, us ...int64) *load.Stats {
	h := hdrhistogram.New(1, 120_000_000, 3)
	for _, v := range us {
		_ = h.RecordValue(v)
	}
	return &load.Stats{Hist: h, Status: map[int]int64{status: int64(len(us))}, Samples: map[int][]string{}}
}

func sample() *Report {
	sc := &load.Scenario{Name: "get-project", Title: "cached <GET>", Ops: load.Only(load.GetProject), Mode: load.Mode{Concurrency: 32}}
	start := time.Now()
	res := &load.Result{Scenario: sc, Start: start, End: start.Add(2 * time.Second),
		Endpoints: map[string]*load.Stats{load.EndpointGetProject: stats(200, 1000, 2000, 3000, 4000)}}
	res.Total = res.Endpoints[load.EndpointGetProject]
	route := &emf.Route{Requests: 4, Status: map[int]int64{200: 4}, Duration: hdrhistogram.New(1, 120_000_000, 2)}
	_ = route.Duration.RecordValue(500)
	w := &emf.Window{Name: sc.Name, Functions: map[string]*emf.Function{
		"local-projects": {Requests: 4, CacheHits: 3, CacheMisses: 1, QueryMs: map[string]float64{"Primary": 3}, QueryN: map[string]int64{"Primary": 2},
			Instances: map[int]bool{1: true, 2: true}, Routes: map[string]*emf.Route{"GET /projects/{id}": route}},
	}}
	s := FromResult(res, w)
	s.Seed, s.Aim = &SeedFigure{RPS: 1485, P99Ms: 29}, 15000
	return &Report{Started: start, Machine: ThisMachine(), Scenarios: []*Scenario{s, {Name: "skipped-one", Skipped: "-max-total"}},
		Checks: []Check{{Source: "issue", Metric: "throughput", Scenario: "get-project", Target: ">= 15000 req/s", Value: 2, Unit: "req/s"}}}
}

func TestFromResult(t *testing.T) {
	s := sample().Scenarios[0]
	if s.Requests != 4 || s.OK != 4 || s.RPS != 2 || s.Mode != "closed" || s.Concurrency != 32 {
		t.Errorf("scenario = %+v", s)
	}
	if s.Latency.P50 < 1.99 || s.Latency.P50 > 2.01 || s.Latency.Max < 3.99 {
		t.Errorf("latency = %+v", s.Latency)
	}
	if s.Server == nil || *s.Server.HitRate != 0.75 || *s.Server.QueryAvgMs != 1.5 || s.Server.Instances["local-projects"] != 2 {
		t.Errorf("server = %+v", s.Server)
	}
}

func TestWriteOutputs(t *testing.T) {
	r := sample()
	var b strings.Builder
	r.WriteTable(&b)
	for _, want := range []string{"get-project", "skipped: -max-total", "1485 (29 ms)", "75.0", "MISSED", "0 met, 1 missed"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}

	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(raw, &back); err != nil || back.Scenarios[0].Latency != r.Scenarios[0].Latency {
		t.Errorf("JSON round trip: %v, %+v", err, back.Scenarios)
	}

	var svg strings.Builder
	if err := r.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(svg.String()))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, svg.String())
		}
	}
	if !strings.Contains(svg.String(), "cached &lt;GET&gt;") && strings.Contains(svg.String(), "<GET>") {
		t.Error("a title reached the SVG unescaped")
	}
}
