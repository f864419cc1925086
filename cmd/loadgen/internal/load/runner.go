package load

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how a scenario applies load.
//
// Closed-loop (Rate 0): Concurrency workers each send a request as soon as their previous one
// answered; latency is send to answer. This finds the throughput at that concurrency, but a
// stall slows the senders down with it and so hides in the latency it would have caused.
//
// Open-loop (Rate > 0): requests are due at a constant rate, request n at start + n/Rate,
// whatever happened to the ones before; Workers goroutines take the due requests in order.
// Latency is measured from the due time, not from the moment a worker got round to sending:
// when the server stalls, every request that fell due meanwhile carries the stall in its
// latency (no coordinated omission). Workers only bounds the requests in flight.
type Mode struct {
	Concurrency int
	Rate        float64
	Workers     int
}

// Open reports whether m is open-loop.
func (m Mode) Open() bool { return m.Rate > 0 }

// Scenario is one measured run.
type Scenario struct {
	Name  string
	Title string
	Ops   []Op
	Mode  Mode
	// Warmup runs the same load first, unrecorded: cold starts, connection set-up and cache fills
	// belong to the warm-up, not to the figures.
	Warmup   time.Duration
	Duration time.Duration
	// Around, if set, is called after the warm-up, just before the measurement, and the
	// function it returns just after (e.g. a cache-eviction loop for an uncached scenario).
	Around func(ctx context.Context) (stop func())
}

// Result is what a scenario measured.
type Result struct {
	Scenario  *Scenario
	Start     time.Time // the measured window; the EMF lines of the functions are matched to it
	End       time.Time
	Endpoints map[string]*Stats
	Total     *Stats
	// Open-loop only: requests sent more than a millisecond after they were due (the workers
	// were all busy), and requests never sent because they were due more than Grace before
	// the end of the run (the server was that far behind).
	Late   int64
	Unsent int64
}

// Elapsed is the measured window's length.
func (r *Result) Elapsed() time.Duration { return r.End.Sub(r.Start) }

// Grace is how long past its end an open-loop run keeps sending requests that fell due before
// the end.
const Grace = 5 * time.Second

// Runner runs scenarios against one workload with one client.
type Runner struct {
	Client   *http.Client
	Workload *Workload
	// Begin, if set, is called as each measured window opens, after the warm-up.
	Begin func(sc *Scenario, start time.Time)
	salt  atomic.Uint64
}

// Run runs sc: the warm-up, then the measurement. It returns early, with what it measured, when
// ctx ends.
func (r *Runner) Run(ctx context.Context, sc *Scenario) *Result {
	if sc.Warmup > 0 {
		r.apply(ctx, sc, time.Now(), sc.Warmup, nil)
	}
	var stop func()
	if sc.Around != nil {
		stop = sc.Around(ctx)
	}
	recs := map[string]*Recorder{}
	for _, op := range sc.Ops {
		recs[op.Endpoint] = newRecorder()
	}
	start := time.Now()
	if r.Begin != nil {
		r.Begin(sc, start)
	}
	late, unsent := r.apply(ctx, sc, start, sc.Duration, recs)
	end := time.Now()
	if stop != nil {
		stop()
	}
	res := &Result{Scenario: sc, Start: start, End: end, Endpoints: map[string]*Stats{}, Late: late, Unsent: unsent}
	var all []*Stats
	for name, rec := range recs {
		s := rec.snapshot()
		res.Endpoints[name] = s
		all = append(all, s)
	}
	res.Total = merge(all)
	return res
}

// apply runs the load from start for d; recs nil means a warm-up.
func (r *Runner) apply(ctx context.Context, sc *Scenario, start time.Time, d time.Duration, recs map[string]*Recorder) (late, unsent int64) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	until := start.Add(d)
	pick := picker(sc.Ops)
	salt := r.salt.Add(1)
	var wg sync.WaitGroup
	if !sc.Mode.Open() {
		for i := range max(sc.Mode.Concurrency, 1) {
			g := newGen(r.Workload, i, salt)
			wg.Go(func() {
				for ctx.Err() == nil && time.Now().Before(until) {
					g.next()
					req := pick(g).Build(g)
					req.Auth = g.s.Auth
					t0 := time.Now()
					status, n, sample := r.do(ctx, req)
					if recs != nil && ctx.Err() == nil {
						recs[req.Endpoint].record(time.Since(t0), status, n, sample)
					}
				}
			})
		}
		wg.Wait()
		return 0, 0
	}

	interval := time.Duration(float64(time.Second) / sc.Mode.Rate)
	var seq, nLate, nUnsent atomic.Int64
	for i := range max(sc.Mode.Workers, 1) {
		g := newGen(r.Workload, i, salt)
		wg.Go(func() {
			for ctx.Err() == nil {
				due := start.Add(time.Duration(seq.Add(1)-1) * interval)
				if !due.Before(until) {
					return
				}
				now := time.Now()
				switch wait := due.Sub(now); {
				case wait > 0:
					sleep(ctx, wait)
				case -wait > time.Millisecond:
					nLate.Add(1)
				}
				if now.After(until.Add(Grace)) {
					nUnsent.Add(1)
					continue
				}
				g.next()
				req := pick(g).Build(g)
				req.Auth = g.s.Auth
				status, n, sample := r.do(ctx, req)
				if recs != nil && ctx.Err() == nil {
					recs[req.Endpoint].record(time.Since(due), status, n, sample)
				}
			}
		})
	}
	wg.Wait()
	return nLate.Load(), nUnsent.Load()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// picker returns a function choosing an Op by weight.
func picker(ops []Op) func(*Gen) *Op {
	if len(ops) == 1 {
		return func(*Gen) *Op { return &ops[0] }
	}
	total := 0
	cum := make([]int, len(ops))
	for i, op := range ops {
		total += max(op.Weight, 0)
		cum[i] = total
	}
	return func(g *Gen) *Op {
		x := g.rng.IntN(total)
		for i, c := range cum {
			if x < c {
				return &ops[i]
			}
		}
		return &ops[len(ops)-1]
	}
}

// do sends req and reads the whole answer; status 0 is a transport error. For a failure the
// returned function gives the start of the answer, for the report's error samples.
func (r *Runner) do(ctx context.Context, req Request) (status int, n int64, sample func() string) {
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return 0, 0, func() string { return err.Error() }
	}
	hr.Header.Set("Authorization", req.Auth)
	if req.Body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.Client.Do(hr)
	if err != nil {
		return 0, 0, func() string { return err.Error() }
	}
	defer resp.Body.Close()
	if resp.StatusCode < 400 {
		n, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, n, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, int64(len(b)), func() string {
		s := strings.TrimSpace(string(b))
		if len(s) > 300 {
			s = s[:300] + "…"
		}
		return s
	}
}
