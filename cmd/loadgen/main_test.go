package main

import (
	"strings"
	"testing"

	"scaleapi/cmd/loadgen/internal/report"
	"scaleapi/cmd/local/samtemplate"
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
	for _, s := range all {
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
	var got []string
	for _, s := range some {
		got = append(got, s.Name)
	}
	if strings.Join(got, " ") != "get-project mix-c1 mix-c32 mix-open" {
		t.Errorf("-scenarios get-project,mix* ran %v", got)
	}
	o.only = "nothing"
	if _, err := plan(o); err == nil {
		t.Error("a filter matching nothing was accepted")
	}
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
