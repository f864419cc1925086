package lambdabench

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// route is one benchmarked request: what a client sends, what it must get back, and, for a
// route that measures a cache miss, the request that invalidates what it reads, sent before each
// invocation and not measured.
type route struct {
	name   string
	req    func(s *stack) request
	status int
	// between, when set, runs before each measured invocation, outside the measurement.
	between func(s *stack) request
}

// routes are the routes measured, grouped by function. Each reads the seeded data; the writes
// come last in their function's group and touch a project the reads do not.
var routes = []route{
	{name: "auth/me", status: 200, req: func(s *stack) request {
		return request{method: "GET", resource: "/auth/me", path: "/auth/me", token: s.token}
	}},
	{name: "auth/login", status: 200, req: func(s *stack) request {
		return request{method: "POST", resource: "/auth/login", path: "/auth/login",
			body: `{"email":"` + s.email + `","password":"correct horse battery"}`}
	}},
	{name: "organizations/get", status: 200, req: func(s *stack) request {
		return request{method: "GET", resource: "/organizations/{id}", path: "/organizations/" + s.org, token: s.token}
	}},
	{name: "organizations/list", status: 200, req: func(s *stack) request {
		return request{method: "GET", resource: "/organizations", path: "/organizations", token: s.token}
	}},
	{name: "projects/get-cached", status: 200, req: getProject},
	{name: "projects/get-uncached", status: 200, req: getProject, between: patchProject},
	{name: "projects/get-join-tasks", status: 200, req: func(s *stack) request {
		return request{method: "GET", resource: "/projects/{id}", path: "/projects/" + s.project + "?join=tasks", token: s.token}
	}},
	{name: "projects/list-cached", status: 200, req: listProjects},
	{name: "projects/create", status: 201, req: func(s *stack) request {
		return request{method: "POST", resource: "/projects", path: "/projects", token: s.token,
			body: `{"organizationId":"` + s.org + `","name":"Benchmark","description":"created by the benchmark"}`}
	}},
	{name: "projects/patch", status: 200, req: func(s *stack) request {
		return request{method: "PATCH", resource: "/projects/{id}", path: "/projects/" + s.written, token: s.token,
			body: `{"status":"active"}`}
	}},
	{name: "reports/summary-cached", status: 200, req: summary},
	{name: "reports/summary-uncached", status: 200, req: summary, between: patchWritten},
	{name: "health", status: 200, req: func(*stack) request {
		return request{method: "GET", resource: "/health", path: "/health"}
	}},
}

func getProject(s *stack) request {
	return request{method: "GET", resource: "/projects/{id}", path: "/projects/" + s.project, token: s.token}
}

// patchProject changes the project getProject reads, which drops its cache entry.
func patchProject(s *stack) request {
	return request{method: "PATCH", resource: "/projects/{id}", path: "/projects/" + s.project, token: s.token,
		body: `{"description":"The first project"}`}
}

// patchWritten changes a project of the organization, which drops every list and report of it.
func patchWritten(s *stack) request {
	return request{method: "PATCH", resource: "/projects/{id}", path: "/projects/" + s.written, token: s.token,
		body: `{"status":"on_hold"}`}
}

func listProjects(s *stack) request {
	return request{method: "GET", resource: "/projects",
		path: "/projects?filter=organizationId||$eq||" + s.org + "&limit=20", token: s.token}
}

func summary(s *stack) request {
	return request{method: "GET", resource: "/reports/organizations/{id}/summary",
		path: "/reports/organizations/" + s.org + "/summary", token: s.token}
}

// recorded is how many events of each request a benchmark replays, each with its own request id.
const recorded = 64

// BenchmarkInvoke invokes each route's function as a warm execution environment does: the event
// bytes API Gateway sends, through the function's lambda.Handler, against the real services.
func BenchmarkInvoke(b *testing.B) {
	s := newStack(b)
	for _, rt := range routes {
		b.Run(rt.name, func(b *testing.B) { s.bench(b, rt) })
	}
}

// bench measures rt. Each invocation is bracketed by getrusage calls, so the CPU it reports is
// the process's over the invocations only (not between's); the bracket adds two system calls,
// about half a microsecond, to each invocation's figures.
func (s *stack) bench(b *testing.B, rt route) { s.benchOn(b, rt, s.envFor(rt.req(s).resource)) }

// benchOn measures rt in the execution environment e.
func (s *stack) benchOn(b *testing.B, rt route, e *environment) {
	evs := eventsOf(b, rt.req(s), recorded)
	var prep [][]byte
	var prepEnv *environment
	if rt.between != nil {
		prep = eventsOf(b, rt.between(s), recorded)
		prepEnv = s.envFor(rt.between(s).resource)
	}
	ctx := b.Context()
	for i := range 3 { // warm: pools connected, caches filled, as in a warm environment
		s.prepare(b, prepEnv, prep, i)
		s.check(b, rt, e, evs[i])
	}
	lines0, redis0, pg0 := e.lines.counts()
	var prepLines, prepRedis, prepPG int64 // between's share, when it runs in the same environment
	durations := make([]time.Duration, 0, 1024)
	var cpu time.Duration
	want := []byte(`"statusCode":` + strconv.Itoa(rt.status) + `,`)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if prep != nil {
			b.StopTimer()
			l0, r0, p0 := e.lines.counts()
			s.prepare(b, prepEnv, prep, i)
			l1, r1, p1 := e.lines.counts()
			prepLines, prepRedis, prepPG = prepLines+l1-l0, prepRedis+r1-r0, prepPG+p1-p0
			b.StartTimer()
		}
		c0 := cpuTime()
		t0 := time.Now()
		out, err := e.invokeRaw(ctx, evs[i%recorded])
		d := time.Since(t0)
		cpu += cpuTime() - c0
		if err != nil || !bytes.Contains(out[:min(len(out), 64)], want) {
			b.Fatalf("%s: %v %.200s", rt.name, err, out)
		}
		durations = append(durations, d)
		i++
	}
	lines, redis, pg := e.lines.counts()
	lines, redis, pg = lines-prepLines, redis-prepRedis, pg-prepPG
	if n := lines - lines0; n != int64(len(durations)) {
		b.Fatalf("%d EMF lines for %d invocations", n, len(durations))
	}
	n := float64(len(durations))
	slices.Sort(durations)
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/op")
	b.ReportMetric(float64(percentile(durations, 50).Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(percentile(durations, 99).Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(redis-redis0)/n, "redis-trips/op")
	b.ReportMetric(float64(pg-pg0)/n, "pg-trips/op")
}

// prepare runs the i-th invalidating request, if the route has one.
func (s *stack) prepare(tb testing.TB, e *environment, evs [][]byte, i int) {
	if e == nil {
		return
	}
	resp, err := e.invoke(context.Background(), evs[i%len(evs)])
	if err != nil || resp.StatusCode != 200 {
		tb.Fatalf("invalidating request: %v %d %s", err, resp.StatusCode, resp.Body)
	}
}

// check invokes ev once and fails tb unless the answer has rt's status.
func (s *stack) check(tb testing.TB, rt route, e *environment, ev []byte) {
	tb.Helper()
	resp, err := e.invoke(context.Background(), ev)
	if err != nil || resp.StatusCode != rt.status {
		tb.Fatalf("%s: %v %d %s", rt.name, err, resp.StatusCode, resp.Body)
	}
}

// percentile is the p-th percentile of sorted ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := (len(ds)*p + 99) / 100
	return ds[max(i-1, 0)]
}

// cpuTime is the process's CPU time so far, user and system, all threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(fmt.Sprintf("getrusage: %v", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// trips is a route's round trips to Redis and PostgreSQL on a warm invocation.
type trips struct{ redis, pg int64 }

// wantTrips pins each route's round trips, which the README quotes. One to Redis is the least a
// request with a session can take (the session check, which every read rides; see
// guard.Prefetching); a miss adds the load and the fill, a write its invalidation (one pipeline:
// cache.Invalidate).
var wantTrips = map[string]trips{
	"auth/me":                  {1, 2},
	"auth/login":               {2, 1},
	"organizations/get":        {1, 0},
	"organizations/list":       {1, 1},
	"projects/get-cached":      {1, 0},
	"projects/get-uncached":    {3, 1},
	"projects/get-join-tasks":  {1, 0},
	"projects/list-cached":     {1, 0},
	"projects/create":          {2, 1},
	"projects/patch":           {2, 1},
	"reports/summary-cached":   {1, 0},
	"reports/summary-uncached": {3, 1},
	"health":                   {1, 0},
}

// TestRoundTrips checks each route's round trips on a warm invocation against wantTrips: a
// change that adds one fails here, and the README's figures stay true.
func TestRoundTrips(t *testing.T) {
	s := newStack(t)
	for _, rt := range routes {
		e := s.envFor(rt.req(s).resource)
		var prepEnv *environment
		var prep [][]byte
		if rt.between != nil {
			prepEnv, prep = s.envFor(rt.between(s).resource), eventsOf(t, rt.between(s), 3)
		}
		evs := eventsOf(t, rt.req(s), 3)
		for i := range 3 {
			s.prepare(t, prepEnv, prep, i)
			s.check(t, rt, e, evs[i])
		}
		r, pg := e.lines.last()
		if got, want := (trips{r, pg}), wantTrips[rt.name]; got != want {
			t.Errorf("%s: %d Redis and %d PostgreSQL round trips, want %d and %d", rt.name, got.redis, got.pg, want.redis, want.pg)
		}
	}
}
