package main

import (
	"strings"
	"testing"

	"scaleapi/cmd/loadgen/internal/load"
	"scaleapi/cmd/loadgen/internal/report"
	"scaleapi/internal/samtemplate"
)

func TestTemplateDeclaresTheRateLimit(t *testing.T) {
	tpl, err := samtemplate.Parse("../../template.yaml", samtemplate.Options{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !declares(tpl, "RATE_LIMIT_PER_MINUTE") {
		t.Fatal("template.yaml must declare RATE_LIMIT_PER_MINUTE for every function: make bench raises it so that a few hundred users are not throttled")
	}
}

func TestPlanFiltersScenarios(t *testing.T) {
	o := &options{concurrency: "1,32", single: 32, workers: 8}
	all, err := plan(o)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range all.harness {
		names[s.Name] = true
	}
	for _, want := range []string{scGetProject, scPerInstance, "mix-c1", "mix-c32", scMixOpen, scCreateProject, scSummaryUncached} {
		if !names[want] {
			t.Errorf("the plan lacks %s", want)
		}
	}
	o.only = "get-project,mix*"
	some, err := plan(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := scenarioNames(some.harness); got != "get-project mix-c1 mix-c32 mix-open" {
		t.Errorf("-scenarios get-project,mix* ran %v", got)
	}
	o.only = "nothing"
	if _, err := plan(o); err == nil {
		t.Error("a filter matching nothing was accepted")
	}
}

func TestPlanPicksDefaultsScenariosWithTheirHarnessScenarios(t *testing.T) {
	for _, tc := range []struct {
		name              string
		only              string
		off               bool // -defaults=false
		harness, defaults string
	}{
		{name: "no filter runs all three", only: "", defaults: "defaults-get-project defaults-list-projects defaults-create-project"},
		{name: "harness names pick their defaults runs", only: "get-project,list-projects,create-project",
			harness: "get-project list-projects create-project", defaults: "defaults-get-project defaults-list-projects defaults-create-project"},
		{name: "a defaults name brings its harness scenario", only: "defaults-list-projects",
			harness: "list-projects", defaults: "defaults-list-projects"},
		{name: "a defaults prefix brings all three harness scenarios", only: "defaults*",
			harness: "get-project list-projects create-project", defaults: "defaults-get-project defaults-list-projects defaults-create-project"},
		{name: "other scenarios start no defaults phase", only: "mix*", harness: "mix-c32 mix-open"},
		{name: "-defaults=false starts no defaults phase", only: "get-project", off: true, harness: "get-project"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan(&options{concurrency: "32", single: 32, workers: 8, only: tc.only, defaults: !tc.off})
			if err != nil {
				t.Fatal(err)
			}
			if got := scenarioNames(p.harness); tc.harness != "" && got != tc.harness {
				t.Errorf("harness phase: %s, want %s", got, tc.harness)
			}
			if got := scenarioNames(p.defaults); got != tc.defaults {
				t.Errorf("defaults phase: %q, want %q", got, tc.defaults)
			}
			for _, d := range p.defaults {
				if !strings.Contains(d.Title, "make run's embedded defaults") || d.Mode.Concurrency != 32 {
					t.Errorf("%s: title %q, concurrency %d", d.Name, d.Title, d.Mode.Concurrency)
				}
			}
		})
	}
	if _, err := plan(&options{concurrency: "32", only: "defaults-get-project"}); err == nil {
		t.Error("-defaults=false -scenarios defaults-get-project was accepted")
	}
}

func scenarioNames(scs []*load.Scenario) string {
	var names []string
	for _, s := range scs {
		names = append(names, s.Name)
	}
	return strings.Join(names, " ")
}

func TestChecksMarkWhatDidNotRun(t *testing.T) {
	r := &report.Report{Scenarios: []*report.Scenario{{Name: scGetProject, Requests: 10, OKRPS: 16000}}}
	var sawAim, sawMissing bool
	for _, c := range checks(r) {
		if c.Scenario == scGetProject && c.Source == "issue" {
			sawAim = c.Pass && c.Value == 16000
		}
		if c.Scenario == mixName(refConcurrency) && c.Missing {
			sawMissing = true
		}
	}
	if !sawAim || !sawMissing {
		t.Errorf("aim met: %v, unrun scenario missing: %v", sawAim, sawMissing)
	}
}

func TestDefaultsChecksHoldEachToItsHarnessFigure(t *testing.T) {
	ran := func(name string, okrps float64, requests, ok int64) *report.Scenario {
		return &report.Scenario{Name: name, OKRPS: okrps, Requests: requests, OK: ok}
	}
	harness := ran(scGetProject, 2000, 16000, 16000)
	for _, tc := range []struct {
		name                     string
		scenarios                []*report.Scenario
		throughput, failed       string // ok, MISSED or n/a
		throughputValue, failedN float64
	}{
		{name: "within 20 % passes", scenarios: []*report.Scenario{harness, ran("defaults-get-project", 1700, 13600, 13600)},
			throughput: "ok", failed: "ok", throughputValue: 1700},
		{name: "below 80 % misses", scenarios: []*report.Scenario{harness, ran("defaults-get-project", 130, 1040, 1040)},
			throughput: "MISSED", failed: "ok", throughputValue: 130},
		{name: "a failed request misses", scenarios: []*report.Scenario{harness, ran("defaults-get-project", 1900, 15300, 15200)},
			throughput: "ok", failed: "MISSED", throughputValue: 1900, failedN: 100},
		{name: "serving nothing misses", scenarios: []*report.Scenario{harness, ran("defaults-get-project", 0, 0, 0)},
			throughput: "MISSED", failed: "ok"},
		{name: "without the defaults run it is n/a", scenarios: []*report.Scenario{harness, {Name: "defaults-get-project", Skipped: "defaults phase: boom"}},
			throughput: "n/a", failed: "n/a"},
		{name: "without the harness figure it is n/a", scenarios: []*report.Scenario{ran("defaults-get-project", 1700, 13600, 13600)},
			throughput: "n/a", failed: "ok", throughputValue: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verdict := func(c report.Check) string {
				switch {
				case c.Missing:
					return "n/a"
				case c.Pass:
					return "ok"
				}
				return "MISSED"
			}
			var seen int
			for _, c := range checks(&report.Report{Scenarios: tc.scenarios}) {
				if c.Source != "issue 9" || c.Scenario != "defaults-get-project" {
					continue
				}
				seen++
				want, value := tc.failed, tc.failedN
				if c.Unit == "req/s" {
					want, value = tc.throughput, tc.throughputValue
				}
				if verdict(c) != want || !c.Missing && c.Value != value {
					t.Errorf("%s: %s, value %v (target %s); want %s, %v", c.Metric, verdict(c), c.Value, c.Target, want, value)
				}
			}
			if seen != 2 {
				t.Errorf("%d issue 9 checks on defaults-get-project, want throughput and failures", seen)
			}
		})
	}
}

func TestPlanPicksShardsScenariosWithTheirHarnessScenarios(t *testing.T) {
	for _, tc := range []struct {
		name             string
		only             string
		shards           int
		harness, sharded string
	}{
		{name: "no filter runs it", shards: 3, sharded: "shards-create-project"},
		{name: "the harness name picks it", only: "create-project", shards: 3, harness: "create-project", sharded: "shards-create-project"},
		{name: "its name brings its harness scenario", only: "shards-create-project", shards: 3, harness: "create-project", sharded: "shards-create-project"},
		{name: "other scenarios start no shards phase", only: "get-project", shards: 3, harness: "get-project"},
		{name: "one shard is no shards phase", only: "create-project", shards: 1, harness: "create-project"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan(&options{concurrency: "32", single: 32, workers: 8, only: tc.only, shards: tc.shards})
			if err != nil {
				t.Fatal(err)
			}
			if got := scenarioNames(p.harness); tc.harness != "" && got != tc.harness {
				t.Errorf("harness phase: %s, want %s", got, tc.harness)
			}
			if got := scenarioNames(p.shards); got != tc.sharded {
				t.Errorf("shards phase: %q, want %q", got, tc.sharded)
			}
			for _, s := range p.shards {
				if !strings.Contains(s.Title, "spread over 3 shards") || s.Mode.Concurrency != 32 {
					t.Errorf("%s: title %q, concurrency %d", s.Name, s.Title, s.Mode.Concurrency)
				}
			}
		})
	}
}

func TestShardsChecksSetCreatesBesideOneDatabase(t *testing.T) {
	one := &report.Scenario{Name: scCreateProject, OKRPS: 1000, Requests: 9000, OK: 9000}
	for _, tc := range []struct {
		name          string
		sharded       *report.Scenario
		ratio, failed string // ok, MISSED or n/a
		ratioValue    float64
	}{
		{name: "more than one database passes", sharded: &report.Scenario{Name: "shards-create-project", OKRPS: 1500, Requests: 13500, OK: 13500}, ratio: "ok", failed: "ok", ratioValue: 1.5},
		{name: "less misses", sharded: &report.Scenario{Name: "shards-create-project", OKRPS: 800, Requests: 7200, OK: 7200}, ratio: "MISSED", failed: "ok", ratioValue: 0.8},
		{name: "a failed create misses", sharded: &report.Scenario{Name: "shards-create-project", OKRPS: 1100, Requests: 9901, OK: 9900}, ratio: "ok", failed: "MISSED", ratioValue: 1.1},
		{name: "a phase that did not run is n/a", sharded: &report.Scenario{Name: "shards-create-project", Skipped: "shards phase: boom"}, ratio: "n/a", failed: "n/a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, c := range checks(&report.Report{Scenarios: []*report.Scenario{one, tc.sharded}}) {
				if c.Source != "issue 15" {
					continue
				}
				v := "MISSED"
				switch {
				case c.Missing:
					v = "n/a"
				case c.Pass:
					v = "ok"
				}
				got[c.Unit] = v
				if c.Unit == "x" && !c.Missing && c.Value != tc.ratioValue {
					t.Errorf("ratio %v, want %v", c.Value, tc.ratioValue)
				}
			}
			if got["x"] != tc.ratio || got["requests"] != tc.failed {
				t.Errorf("ratio %s, failed %s; want %s, %s", got["x"], got["requests"], tc.ratio, tc.failed)
			}
		})
	}
}
