package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	fixture = "testdata/lambda-bench.txt"
	// doubled is fixture with every BenchmarkInvoke row's wall time, CPU, latencies and round
	// trips, and the Runtime API loop's CPU, twice as large: a build that costs twice as much.
	doubled      = "testdata/lambda-bench-doubled.txt"
	templatePath = "../../template.yaml"
)

func TestParseFixture(t *testing.T) {
	c, err := readCosts(fixture, measuredRows())
	if err != nil {
		t.Fatal(err)
	}
	if c.Runs != 3 {
		t.Errorf("runs = %d, want 3", c.Runs)
	}
	if !strings.Contains(c.Machine, "linux/amd64") {
		t.Errorf("machine = %q", c.Machine)
	}
	// The medians of the fixture's three runs of each row.
	get := c.Routes["projects/get-cached"]
	want := RouteCost{WallUs: 241.234, CPUUs: 199.7, PGTrips: 0.0002977, RedisTrips: 1}
	if !near(get.WallUs, want.WallUs) || get.CPUUs != want.CPUUs || get.PGTrips != want.PGTrips || get.RedisTrips != want.RedisTrips {
		t.Errorf("get-cached = %+v, want %+v", get, want)
	}
	if got := c.Routes["reports/summary-uncached"].CPUUs; got != 956.9 {
		t.Errorf("summary-uncached CPU = %g, want 956.9", got)
	}
	if c.Loop.CPUUs != 265.2 {
		t.Errorf("loop CPU = %g, want 265.2", c.Loop.CPUUs)
	}
	if cs := c.ColdStarts["AuthFunction"]; cs.InitMs != 7.874 || cs.MaxMemoryMiB != 21.38 {
		t.Errorf("AuthFunction cold start = %+v", cs)
	}
	if len(c.Routes) != len(measuredRows()) {
		t.Errorf("%d routes, want %d", len(c.Routes), len(measuredRows()))
	}
}

func near(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 }

func TestMissingRoutesAreNamed(t *testing.T) {
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "BenchmarkInvoke/projects/patch-") || strings.HasPrefix(line, "BenchmarkRuntimeAPI/loop-") ||
			strings.HasPrefix(line, "BenchmarkInvoke/auth/login-") {
			continue
		}
		// A row without its round trips (an older report) is named too.
		if strings.HasPrefix(line, "BenchmarkInvoke/organizations/list-") {
			line = line[:strings.Index(line, "pg-trips/op")-len("1.000 ")] + "\n"
		}
		kept = append(kept, line)
	}
	_, err = parseCosts(strings.NewReader(strings.Join(kept, "")), "cut.txt", measuredRows())
	if err == nil {
		t.Fatal("no error for a report without three rows")
	}
	for _, want := range []string{"cut.txt", "BenchmarkInvoke/projects/patch", "BenchmarkInvoke/auth/login", "BenchmarkRuntimeAPI/loop",
		"BenchmarkInvoke/organizations/list (no pg-trips/op, redis-trips/op)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestMissingReportSaysWhatToRun(t *testing.T) {
	err := run([]string{"-report", filepath.Join(t.TempDir(), "none.txt"), "-template", templatePath}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "make bench-lambda") {
		t.Errorf("error = %v, want one saying to run make bench-lambda", err)
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-mix", "get=50,teleport=50"}, `no class "teleport"`},
		{[]string{"-mix", "get=50,list=20"}, "add up to 70 %"},
		{[]string{"-mix", "get"}, `"get" is not class=percent`},
		{[]string{"-hit-rate", "1.5"}, "-hit-rate must be between 0 and 1"},
		{[]string{"-users", "0", "-rps", "0"}, "both 0"},
		{[]string{"-peak", "0.5"}, "-peak must be between 1 and 100"},
		{[]string{"-memory", "EntitiesFunction=64"}, "128 ≤ MB"},
		{[]string{"-memory", "NoSuchFunction=512", "-report", fixture, "-template", templatePath}, "no function NoSuchFunction"},
		{[]string{"-users", "many"}, `invalid value "many"`},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		err := run(tc.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, new(usageError)) {
			t.Errorf("%v: error = %v, want a usage error with %q", tc.args, err, tc.want)
		}
	}
}

// planned runs the whole planner on a report with default assumptions (no make bench report).
func planned(t *testing.T, report string, change ...func(*Assumptions)) []*Plan {
	t.Helper()
	a := &Assumptions{Users: 50_000, ActiveShare: 0.2, RequestsPerUser: 300, Peak: 3, HitRate: defaultHitRate,
		Target: 0.7, CPUFactor: 1, RTTms: 0.3, QueryCPUMs: 0.5, QueryHoldMs: 1, ACUvCPU: 0.25,
		AccountConcurrency: 1000, CommandsPerTrip: 5, NodeOps: 100_000, CacheKBPerUser: 10, DBKBPerUser: 50, Provisioned: true}
	for _, c := range change {
		c(a)
	}
	if err := a.parse(defaultMix, ""); err != nil {
		t.Fatal(err)
	}
	costs, err := readCosts(report, measuredRows())
	if err != nil {
		t.Fatal(err)
	}
	stack, err := readStack(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	prices, err := loadPrices()
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profile(costs, stack, a)
	if err != nil {
		t.Fatal(err)
	}
	var out []*Plan
	for _, b := range bands {
		out = append(out, plan(loadOf(b.Name, b.Users, 0, a), prof, stack, prices, a))
	}
	return out
}

func peakConcurrency(p *Plan) float64 {
	var c float64
	for _, f := range p.Functions {
		c += f.Peak
	}
	return c
}

// TestFiguresFollowTheReport feeds the planner two reports, the measured one and one where
// every invocation costs twice as much, and checks that the plan grows with the costs.
func TestFiguresFollowTheReport(t *testing.T) {
	for _, mode := range []string{"provisioned", "on-demand"} {
		set := func(a *Assumptions) { a.Provisioned = mode == "provisioned" }
		base, dear := planned(t, fixture, set), planned(t, doubled, set)
		for i := range bands {
			b, d := base[i], dear[i]
			if d.PeakRPS != b.PeakRPS {
				t.Fatalf("%s: the load moved with the report", b.Name)
			}
			if !(peakConcurrency(d) > peakConcurrency(b)) {
				t.Errorf("%s %s: concurrency %g → %g, want it up", mode, b.Name, peakConcurrency(b), peakConcurrency(d))
			}
			if !(d.WriterNeed > b.WriterNeed) || !(d.BusyConns > b.BusyConns) {
				t.Errorf("%s %s: writer ACUs %g → %g, busy connections %g → %g, want both up", mode, b.Name, b.WriterNeed, d.WriterNeed, b.BusyConns, d.BusyConns)
			}
			if !(d.CacheCmdsPeak > b.CacheCmdsPeak) {
				t.Errorf("%s %s: ECPUs %g → %g, want up", mode, b.Name, b.CacheCmdsPeak, d.CacheCmdsPeak)
			}
			if !(d.Total() > b.Total()) {
				t.Errorf("%s %s: cost %g → %g, want up", mode, b.Name, b.Total(), d.Total())
			}
		}
		// At the largest band the rounded figures move too, not only the exact ones.
		b, d := base[len(bands)-1], dear[len(bands)-1]
		if !(d.WriterACU > b.WriterACU) {
			t.Errorf("%s 100K+: writer ACUs %g → %g", mode, b.WriterACU, d.WriterACU)
		}
		if mode == "provisioned" {
			if bp, dp := b.Functions[0].ProvisionedMax, d.Functions[0].ProvisionedMax; !(dp > bp) {
				t.Errorf("100K+: %s provisioned peak %d → %d", b.Functions[0].Name, bp, dp)
			}
		}
	}
}

func TestBandsGrow(t *testing.T) {
	ps := planned(t, fixture)
	for i := 1; i < len(ps); i++ {
		if !(peakConcurrency(ps[i]) > peakConcurrency(ps[i-1])) || !(ps[i].Total() > ps[i-1].Total()) {
			t.Errorf("%s is not larger than %s", ps[i].Name, ps[i-1].Name)
		}
	}
	if ps[0].Cluster || ps[1].Cluster || !ps[2].Cluster || !ps[3].Cluster {
		t.Errorf("cache cluster by band = %v %v %v %v, want the seed's: from 10K–100K", ps[0].Cluster, ps[1].Cluster, ps[2].Cluster, ps[3].Cluster)
	}
	last := ps[len(ps)-1]
	if !strings.Contains(strings.Join(last.Notes, "\n"), "tenants sharded over") || last.Shards < 2 {
		t.Errorf("100K+: %d shards, notes %q: want the seed's sharding", last.Shards, last.Notes)
	}
	for _, p := range ps[:len(ps)-1] {
		if p.Shards != 1 {
			t.Errorf("%s: %d shards, want one database below 100K+", p.Name, p.Shards)
		}
	}
	// Reserved concurrency never lets the pools open more than the proxy may.
	for _, p := range ps {
		if p.ClientConns > p.ProxyBudget {
			t.Errorf("%s: reserved environments may open %d connections, the proxy %d", p.Name, p.ClientConns, p.ProxyBudget)
		}
		for _, f := range p.Functions {
			if f.Reserved > 0 && f.Reserved < f.ProvisionedMax {
				t.Errorf("%s: %s reserved %d < provisioned %d", p.Name, f.Name, f.Reserved, f.ProvisionedMax)
			}
		}
	}
}

// TestReservedWithinBudgets shrinks the proxy's budget and then the account's limit below what
// the largest band's peak needs: reserved concurrency shrinks with them, never to 0 (which would
// throttle every invocation), and the plan says so.
func TestReservedWithinBudgets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Assumptions)
		note   string
	}{
		{"proxy", func(a *Assumptions) { a.MaxConnections = 20 }, "raise AuroraMaxCapacity"},
		{"account", func(a *Assumptions) { a.AccountConcurrency = 110 }, "higher concurrency limit"},
	} {
		full := planned(t, fixture)[len(bands)-1]
		p := planned(t, fixture, tc.change)[len(bands)-1]
		for i, f := range p.Functions {
			if f.Reserved < 1 || f.Reserved > full.Functions[i].Reserved {
				t.Errorf("%s: %s reserved %d, %d with the defaults", tc.name, f.Name, f.Reserved, full.Functions[i].Reserved)
			}
		}
		if !strings.Contains(strings.Join(p.Notes, "\n"), tc.note) {
			t.Errorf("%s: notes %q lack %q", tc.name, p.Notes, tc.note)
		}
	}
}

func TestLoadDerivation(t *testing.T) {
	a := &Assumptions{ActiveShare: 0.2, RequestsPerUser: 300, Peak: 3}
	l := loadOf("x", 86_400, 0, a)
	if !near(l.AvgRPS, 0.2*300) || !near(l.PeakRPS, 3*0.2*300) || l.Band != 2 {
		t.Errorf("from users: %+v", l)
	}
	l = loadOf("x", 0, 180, a)
	if !near(l.Users, 86_400) {
		t.Errorf("from rps: %+v", l)
	}
}

func TestTiered(t *testing.T) {
	tiers := []Tier{{UpTo: 100, USD: 2}, {UpTo: 300, USD: 1}, {USD: 0.5}}
	for _, tc := range []struct{ usage, want float64 }{{50, 100}, {100, 200}, {200, 300}, {500, 500}} {
		if got := tiered(tc.usage, tiers, 1); !near(got, tc.want) {
			t.Errorf("tiered(%g) = %g, want %g", tc.usage, got, tc.want)
		}
	}
	if got := tiered(3e6, []Tier{{UpTo: 1e6, USD: 2}, {USD: 1}}, 1e6); !near(got, 4) {
		t.Errorf("per million: %g", got)
	}
}

func TestStackFromTemplate(t *testing.T) {
	s, err := readStack(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{"AuthFunction", "EntitiesFunction", "OrganizationsFunction", "ReportsFunction"} {
		f, ok := s.Functions[fn]
		if !ok || f.MemoryMB < 128 || f.DBMaxConns < 1 {
			t.Errorf("%s = %+v, %v", fn, f, ok)
		}
	}
	if s.AuroraMinACU <= 0 || s.AuroraMaxACU < s.AuroraMinACU || s.ProxyMaxConnectionsPercent <= 0 || s.CacheMaxECPUPerSecond <= 0 {
		t.Errorf("stack = %+v", s)
	}
	if s.Secrets < 2 || s.EndpointAZs < 2 {
		t.Errorf("secrets %d, endpoint AZs %d", s.Secrets, s.EndpointAZs)
	}
}

func TestHitRateFromBenchReport(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.json")
	report := `{"scenarios":[{"name":"get-project","server":{"cacheHitRate":1}},{"name":"mix-c32","server":{"cacheHitRate":0.905}}]}`
	if err := os.WriteFile(path, []byte(report), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"-report", fixture, "-template", templatePath, "-bench-json", path}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "0.905") || !strings.Contains(out.String(), "measured: "+path) {
		t.Errorf("the hit rate of %s is not in the output:\n%s", path, out.String())
	}
	out.Reset()
	if err := run([]string{"-report", fixture, "-template", templatePath, "-bench-json", path, "-hit-rate", "0.5"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "0.500") {
		t.Errorf("-hit-rate did not win over the report")
	}
}

func TestOutput(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-report", fixture, "-template", templatePath, "-bench-json", "", "-rps", "2000"}, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"0–1K", "1K–10K", "10K–100K", "100K+", "given", "seed: instances", "Redis Cluster",
		"shards ×", "tenants sharded over", "EntitiesFunction", "total", "-requests-per-user", "prices.json"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
