package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"scaleapi/cmd/loadgen/internal/emf"
	"scaleapi/cmd/loadgen/internal/load"
	"scaleapi/cmd/loadgen/internal/report"
	"scaleapi/cmd/loadgen/internal/seed"
)

// target is a running stack to drive and what is known about it.
type target struct {
	base      string
	data      *seed.Dataset
	collector *emf.Collector // nil: the functions' lines are not available
	localPID  int            // 0: cmd/local's instances can't be found
	redisURL  string         // "": the uncached summary scenario is skipped
	fresh     bool           // probe the cold starts: no function has served a request yet, and they are the report's
	ownStack  bool           // PostgreSQL, PgBouncer and Redis are this process's descendants
	notes     []string
}

// drainWait bounds the wait for the functions' lines of a window still in the pipe.
const drainWait = 2 * time.Second

// later is what a run still has to do after the phase being driven, which the phase leaves room
// for in make bench's budget.
type later struct {
	scenarios []*load.Scenario // shortened alike with the phase's own when the budget is short
	setup     time.Duration    // the later phases' set-up before their first scenario
}

// newReport starts the report of a run whose first stack is t.
func newReport(o *options, t *target) *report.Report {
	return &report.Report{
		Started: time.Now().UTC(), Command: o.command, BaseURL: t.base, Machine: report.ThisMachine(),
		Data: report.Data{Organizations: len(t.data.Orgs), Users: len(t.data.Users), Projects: t.data.Projects(), Tasks: t.data.Tasks,
			LoggedIn: len(sample(t.data.Users, o.logins))},
	}
}

// drive runs scenarios against t into rep: it logs the users in, primes the cache and runs the
// scenarios, within make bench's budget less what next needs. It fails only before the first
// scenario.
func drive(ctx context.Context, o *options, t *target, rep *report.Report, scenarios []*load.Scenario, next later) error {
	conns := o.workers
	for _, s := range scenarios {
		conns = max(conns, s.Mode.Concurrency)
	}
	client := load.NewClient(conns, o.timeout)
	rep.Notes = append(rep.Notes, t.notes...)

	if t.fresh {
		rep.ColdStarts = probeColdStarts(ctx, client, t)
	}

	users := sample(t.data.Users, o.logins)
	start := time.Now()
	sessions, err := load.Login(ctx, client, t.base, users, seed.Password, 2)
	if err != nil {
		return err
	}
	progress(fmt.Sprintf("logged %d users in through POST /auth/login in %s", len(sessions), time.Since(start).Round(time.Millisecond)))

	workload := &load.Workload{Base: t.base, Data: t.data, Sessions: sessions}
	if o.prime {
		if err := prime(ctx, o, client, workload, rep, need(scenarios)+need(next.scenarios)+next.setup); err != nil {
			return err
		}
	}

	var mu sync.Mutex
	windows := map[*load.Scenario]*emf.Window{}
	cpus := map[*load.Scenario]*emf.CPU{}
	runner := &load.Runner{Client: client, Workload: workload}
	runner.Begin = func(sc *load.Scenario, start time.Time) {
		cpu := emf.ReadCPU(t.localPID, t.ownStack)
		mu.Lock()
		defer mu.Unlock()
		cpus[sc] = cpu
		if t.collector != nil {
			windows[sc] = t.collector.Begin(sc.Name, start)
		}
	}

	if o.endBy.IsZero() {
		o.endBy = time.Now().Add(o.maxTotal)
	}
	deadline := o.endBy
	if !o.finishBy.IsZero() {
		// make bench promises an end within its budget: when the set-up (a cold build cache,
		// a busy machine) left less time than the scenarios need, shorten them all alike
		// rather than drop the last ones.
		deadline = minTime(deadline, o.finishBy.Add(-finishReserve))
		fit(o, rep, deadline, scenarios, next)
	}
	for _, sc := range scenarios {
		if ctx.Err() != nil {
			break
		}
		if left := time.Until(deadline); left < sc.Warmup+sc.Duration {
			rep.Scenarios = append(rep.Scenarios, skipped(sc, fmt.Sprintf("-max-total %s reached", o.maxTotal)))
			continue
		}
		if sc.Name == scSummaryUncached {
			if t.redisURL == "" {
				rep.Scenarios = append(rep.Scenarios, skipped(sc, "needs -redis-url"))
				continue
			}
			sc.Around = evictSummaries(t.redisURL, t.data.Orgs)
		}
		if sc.Mode.Open() || sc.Name == scMixOpen {
			sc.Mode.Rate = openRate(o, rep)
		}
		res := runner.Run(ctx, sc)
		cpuEnd := emf.ReadCPU(t.localPID, t.ownStack)
		var w *emf.Window
		if t.collector != nil {
			mu.Lock()
			open := windows[sc]
			mu.Unlock()
			if open != nil {
				t.collector.End(open, res.End, drainWait)
				w = t.collector.Snapshot(open)
			}
		}
		s := report.FromResult(res, w)
		s.Seed, s.Aim = seedFigures[sc.Name], aims[sc.Name]
		mu.Lock()
		s.CPU = report.CPUOf(cpuEnd.Since(cpus[sc], rep.Machine.Cores), s.OK, s.Seconds)
		mu.Unlock()
		rep.Scenarios = append(rep.Scenarios, s)
		progress(line(s))
	}
	return nil
}

// prime reads every seeded project once, so that the scenarios start from the warm cache of a
// long-running stack (entries live 300 s), not an empty one. Within make bench's budget it stops
// once only ahead (what the scenarios still to run and the set-up between them need) is left,
// though not before primeAtLeast: a stack too slow to prime in time then starts its scenarios
// from a partly warm cache instead of missing them.
func prime(ctx context.Context, o *options, client *http.Client, w *load.Workload, rep *report.Report, ahead time.Duration) error {
	start := time.Now()
	pctx := ctx
	if !o.finishBy.IsZero() {
		var cancel context.CancelFunc
		pctx, cancel = context.WithDeadline(ctx, maxTime(o.finishBy.Add(-finishReserve-ahead), start.Add(primeAtLeast)))
		defer cancel()
	}
	n, failed, err := load.Prime(pctx, client, w, o.single)
	cut := err != nil && ctx.Err() == nil && pctx.Err() != nil
	if err != nil && !cut {
		return fmt.Errorf("prime the cache: %w", err)
	}
	progress(fmt.Sprintf("primed the cache: GET of %d projects in %s (%d failed)", n, time.Since(start).Round(time.Millisecond), failed))
	note := fmt.Sprintf("before the scenarios every seeded project was read once (%d GETs), so that they start from the warm cache of a long-running stack (entries live 300 s), not an empty one", n)
	if cut {
		note = fmt.Sprintf("priming %s was cut short after %s and %d GETs, to leave the budget to the scenarios: they started from a partly warm cache", w.Base, time.Since(start).Round(time.Second), n)
		progress("note: " + note)
	}
	if !slices.Contains(rep.Notes, note) { // every phase primes alike
		rep.Notes = append(rep.Notes, note)
	}
	return nil
}

// primeAtLeast is the least time prime gets when the budget is short: at the default sizes it
// needs about 12 s (10,000 GETs, mostly cache misses, at 800-900/s on 2 cores), and the
// scenarios are better shortened a little than run on a cold cache.
const primeAtLeast = 30 * time.Second

// need is how long scenarios take.
func need(scenarios []*load.Scenario) time.Duration {
	var d time.Duration
	for _, sc := range scenarios {
		d += sc.Warmup + sc.Duration + drainWait/4
	}
	return d
}

// fit shortens scenarios, and next's, alike when what is left until deadline, less next's
// set-up, can't hold them all.
func fit(o *options, rep *report.Report, deadline time.Time, scenarios []*load.Scenario, next later) {
	all := slices.Concat(scenarios, next.scenarios)
	left := time.Until(deadline) - next.setup
	n := need(all)
	if left >= n {
		return
	}
	f := max(float64(left)/float64(n), 0.25)
	for _, sc := range all {
		sc.Warmup = time.Duration(float64(sc.Warmup) * f).Round(100 * time.Millisecond)
		sc.Duration = max(time.Duration(float64(sc.Duration)*f).Round(100*time.Millisecond), time.Second)
	}
	note := fmt.Sprintf("the set-up left %s of the %s budget for scenarios that need %s: all %d were shortened alike to %.0f %% of their warm-up and duration",
		max(left, 0).Round(time.Second), o.budget, n.Round(time.Second), len(all), f*100)
	rep.Notes = append(rep.Notes, note)
	progress("note: " + note)
}

// skipped is the report's entry for a scenario that did not run.
func skipped(sc *load.Scenario, why string) *report.Scenario {
	return &report.Scenario{Name: sc.Name, Title: sc.Title, Skipped: why}
}

// finish sets the figures beside their targets, adds how they were taken and writes the report.
func finish(o *options, rep *report.Report) error {
	rep.Checks = checks(rep)
	rep.Finished = time.Now().UTC()
	rep.Notes = append(rep.Notes, methodNotes(o)...)
	return write(o.out, rep)
}

// finishReserve is kept from make bench's budget for writing the report and stopping the stack.
const finishReserve = 15 * time.Second

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// openRate is the open-loop mix's rate: -rate, or half what the mix sustained at the reference
// concurrency (a load the stack carries with room to spare, where latency, not throughput, is
// the question), or 500/s when that did not run.
func openRate(o *options, rep *report.Report) float64 {
	if o.rate > 0 {
		return o.rate
	}
	if s := rep.Find(mixName(refConcurrency)); s != nil && s.OKRPS > 0 {
		return float64(int(s.OKRPS/2/10)) * 10
	}
	for _, s := range rep.Scenarios {
		if strings.HasPrefix(s.Name, "mix-c") && s.OKRPS > 0 {
			return float64(int(s.OKRPS/2/10)) * 10
		}
	}
	return 500
}

// sample takes n users spread over the whole list, so that their organizations cover the data
// set rather than a corner of it.
func sample(users []seed.User, n int) []seed.User {
	if n <= 0 || n >= len(users) {
		return users
	}
	out := make([]seed.User, 0, n)
	for i := range n {
		out = append(out, users[i*len(users)/n])
	}
	return out
}

// probes are one cheap request per function, sent before anything else: each is that function's
// first request, so the client's latency is a cold start as a user meets it (process start,
// init, the request). Unauthenticated, they end at the auth check (401), which keeps the
// handler's own work out of the figure.
var probes = []struct{ function, route, path string }{
	{"HealthFunction", "GET /health", "/health"},
	{"AuthFunction", "GET /auth/me", "/auth/me"},
	{"OrganizationsFunction", "GET /organizations", "/organizations"},
	{"EntitiesFunction", "GET /projects", "/projects"},
	{"ReportsFunction", "GET /reports/organizations/{id}/summary", "/reports/organizations/" + uuid.Nil.String() + "/summary"},
}

func probeColdStarts(ctx context.Context, client *http.Client, t *target) []report.ColdStart {
	var w *emf.Window
	if t.collector != nil {
		w = t.collector.Begin("cold-start", time.Now())
	}
	var out []report.ColdStart
	for _, p := range probes {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+p.path, nil)
		if err != nil {
			continue
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			progress(fmt.Sprintf("cold start probe %s: %v", p.route, err))
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		out = append(out, report.ColdStart{Function: p.function, Route: p.route, Status: resp.StatusCode,
			ClientMs: float64(time.Since(start).Microseconds()) / 1000})
	}
	if w != nil {
		t.collector.End(w, time.Now(), drainWait)
		snap := t.collector.Snapshot(w)
		for i := range out {
			if f := snap.Functions["gateway:"+out[i].Function]; f != nil && len(f.InitMs) > 0 {
				out[i].InitMs = f.InitMs[0]
			}
		}
	}
	for _, c := range out {
		progress(fmt.Sprintf("cold start %-22s %6.1f ms at the client (init %.1f ms), %d", c.Function, c.ClientMs, c.InitMs, c.Status))
	}
	return out
}

// evictSummaries returns a scenario's Around hook that deletes every organization's cached
// summary every 2 ms while the scenario is measured, so that nearly every request misses and
// runs the report's queries on the replica. Reports take no cache=0, and the first request per
// organization alone would be a hundred requests. The hit rate the functions report for the
// window says how well it worked.
func evictSummaries(redisURL string, orgs []seed.Org) func(ctx context.Context) func() {
	return func(ctx context.Context) func() {
		opt, err := redis.ParseURL(redisURL)
		if err != nil {
			progress("summary-uncached: " + err.Error())
			return func() {}
		}
		rdb := redis.NewClient(opt)
		keys := summaryKeys(ctx, rdb, orgs)
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(2 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if len(keys) == 0 { // the key format was not found: delete what a scan finds
					keys = summaryKeys(ctx, rdb, orgs)
					continue
				}
				_ = rdb.Del(ctx, keys...).Err()
			}
		}()
		return func() {
			cancel()
			<-done
			_ = rdb.Close()
		}
	}
}

// summaryKeys finds the cache keys of the organizations' summaries after the warm-up filled
// them. A summary's key holds its organization's cache generation, which differs from one
// organization to the next, so the keys are read from Redis rather than derived from one; the
// scenario writes nothing, so the generations, and the keys, stay put while it runs.
func summaryKeys(ctx context.Context, rdb *redis.Client, _ []seed.Org) []string {
	var keys []string
	iter := rdb.Scan(ctx, 0, "*summary*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if iter.Err() != nil {
		return nil
	}
	return keys
}

// line is a scenario's one-line progress report.
func line(s *report.Scenario) string {
	mode := fmt.Sprintf("c=%d", s.Concurrency)
	if s.Mode == "open" {
		mode = fmt.Sprintf("%.0f/s", s.Rate)
	}
	extra := ""
	if s.Server != nil {
		if s.Server.HitRate != nil {
			extra += fmt.Sprintf(" hit %.1f%%", *s.Server.HitRate*100)
		}
		if s.Server.QueryAvgMs != nil {
			extra += fmt.Sprintf(" db %.2fms", *s.Server.QueryAvgMs)
		}
	}
	errs := ""
	if len(s.Errors) > 0 {
		errs = fmt.Sprintf(" errors %v", s.Errors)
	}
	return fmt.Sprintf("%-23s %-8s %8.0f ok/s  p50 %6.2fms p99 %7.2fms max %7.1fms%s%s",
		s.Name, mode, s.OKRPS, s.Latency.P50, s.Latency.P99, s.Latency.Max, extra, errs)
}

// methodNotes say how the figures were taken, in the report itself.
func methodNotes(o *options) []string {
	return []string{
		fmt.Sprintf("each scenario: %s unrecorded warm-up, then %s measured; closed-loop scenarios measure send to answer, the open-loop one from each request's due time", o.warmup, o.duration),
		"the seed's latency targets are checked on the mix at 32 concurrent requests (the seed's wrk ran 32 connections); DESIGN.md's latency targets on the open-loop mix at half that throughput",
		"summary-uncached deletes every organization's cached summary every 2 ms while it runs (reports take no cache=0); its hit rate shows the share that still hit",
		"the load generator, cmd/local, the functions, PostgreSQL (primary + replica), PgBouncer and Redis all share this machine's cores",
	}
}

// write writes report.json, report.svg and report.txt into dir and the table to stdout.
func write(dir string, rep *report.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rep.WriteTable(os.Stdout)
	var b strings.Builder
	rep.WriteTable(&b)
	if err := os.WriteFile(filepath.Join(dir, "report.txt"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	if err := rep.WriteJSON(filepath.Join(dir, "report.json")); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.svg"))
	if err != nil {
		return err
	}
	if err := rep.WriteSVG(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "\nwritten: %s/report.json, report.svg, report.txt\n", dir)
	return nil
}
