package metricsview

import (
	"cmp"
	"slices"
)

const (
	// WindowSeconds is the window of the current rates and percentiles.
	WindowSeconds = 60
	// bucketSeconds is the width of one point of the latency charts: one second holds too few
	// requests for a p99 to mean anything.
	bucketSeconds = 5
	// maxLatencySeries bounds how many routes the latency chart gets (the busiest).
	maxLatencySeries = 8
)

// Snapshot is what /_local/metrics.json serves: per-second series over the last five minutes,
// and per-route, per-function and per-pool figures.
type Snapshot struct {
	Now           int64            `json:"now"` // unix milliseconds
	UptimeSeconds float64          `json:"uptimeSeconds"`
	WindowSeconds int              `json:"windowSeconds"`
	Lines         uint64           `json:"lines"` // EMF lines read
	Series        Series           `json:"series"`
	Routes        []RouteFigures   `json:"routes"`
	Functions     []FunctionTotals `json:"functions"`
	Pools         []PoolFigures    `json:"pools"`
}

// Series holds per-second counts, oldest first, and latency percentiles per bucket.
type Series struct {
	Start       int64           `json:"start"` // unix seconds of the first point
	Step        int             `json:"step"`  // seconds per point of the counts
	Requests    []int           `json:"requests"`
	Errors      []int           `json:"errors"`
	ColdStarts  []int           `json:"coldStarts"`
	CacheHits   []int           `json:"cacheHits"`
	CacheMisses []int           `json:"cacheMisses"`
	CacheErrors []int           `json:"cacheErrors"`
	Queries     []int           `json:"queries"`
	LatencyStep int             `json:"latencyStep"` // seconds per point of Latency and QueryTime
	Latency     []LatencySeries `json:"latency"`     // the busiest routes
	QueryTime   []LatencySeries `json:"queryTime"`   // by pool
}

// LatencySeries is one route's (or pool's) p50 and p99 per bucket; null where the bucket saw
// nothing.
type LatencySeries struct {
	Name     string     `json:"name"`
	Function string     `json:"function,omitempty"`
	Count    int        `json:"count"` // observations in the five minutes
	P50      []*float64 `json:"p50"`
	P99      []*float64 `json:"p99"`
}

// RouteFigures describes one route: totals since start and the last WindowSeconds.
type RouteFigures struct {
	Route    string   `json:"route"`
	Function string   `json:"function"`
	Total    uint64   `json:"total"`
	Errors   uint64   `json:"errors"` // 5xx since start
	Window   int      `json:"window"` // requests in the window
	Rate     float64  `json:"rate"`   // requests per second over the window
	P50      *float64 `json:"p50"`
	P90      *float64 `json:"p90"`
	P99      *float64 `json:"p99"`
	Max      *float64 `json:"max"`
}

// FunctionTotals are one function's counts since start.
type FunctionTotals struct {
	Function     string   `json:"function"`
	Requests     uint64   `json:"requests"`
	ColdStarts   uint64   `json:"coldStarts"`
	CacheHits    uint64   `json:"cacheHits"`
	CacheMisses  uint64   `json:"cacheMisses"`
	CacheErrors  uint64   `json:"cacheErrors"`
	CacheHitRate *float64 `json:"cacheHitRate"` // null before the first cache read
	Queries      uint64   `json:"queries"`
}

// PoolFigures describes one database pool over the window, and its totals since start.
type PoolFigures struct {
	Pool    string   `json:"pool"`
	Total   uint64   `json:"total"`
	TotalMS float64  `json:"totalMs"`
	Window  int      `json:"window"`
	P50     *float64 `json:"p50"`
	P99     *float64 `json:"p99"`
}

// weighted is a sampled value standing for weight observations.
type weighted struct {
	v, w float64
}

// collect appends s's values, each weighted by how many observations it stands for.
func collect(dst []weighted, s *sample) []weighted {
	if s == nil || len(s.vals) == 0 {
		return dst
	}
	w := float64(s.n) / float64(len(s.vals))
	for _, v := range s.vals {
		dst = append(dst, weighted{v, w})
	}
	return dst
}

// percentiles returns the values at quantiles qs (nearest rank by weight); nils when vs is
// empty. vs is sorted in place.
func percentiles(vs []weighted, qs ...float64) []*float64 {
	out := make([]*float64, len(qs))
	if len(vs) == 0 {
		return out
	}
	slices.SortFunc(vs, func(x, y weighted) int { return cmp.Compare(x.v, y.v) })
	var total float64
	for _, x := range vs {
		total += x.w
	}
	for i, q := range qs {
		target, acc := q*total, 0.0
		v := vs[len(vs)-1].v
		for _, x := range vs {
			acc += x.w
			if acc >= target {
				v = x.v
				break
			}
		}
		out[i] = ptr(v)
	}
	return out
}

// Snapshot returns the current figures.
func (a *Aggregator) Snapshot() Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	end := now.Unix()
	start := end - ringSeconds + 1

	snap := Snapshot{
		Now: now.UnixMilli(), UptimeSeconds: now.Sub(a.start).Seconds(), WindowSeconds: WindowSeconds, Lines: a.lines,
	}
	ser := &snap.Series
	ser.Start, ser.Step, ser.LatencyStep = start, 1, bucketSeconds
	for _, p := range []*[]int{&ser.Requests, &ser.Errors, &ser.ColdStarts, &ser.CacheHits, &ser.CacheMisses, &ser.CacheErrors, &ser.Queries} {
		*p = make([]int, ringSeconds)
	}

	// live returns second sec's slot, or nil if the ring holds another second there.
	live := func(sec int64) *slot {
		s := &a.ring[int(sec%ringSeconds)]
		if s.sec != sec || s.routes == nil {
			return nil
		}
		return s
	}

	routeCount := map[string]int{} // over the five minutes
	routeFn := map[string]string{}
	poolCount := map[string]int{}
	for i := range ringSeconds {
		s := live(start + int64(i))
		if s == nil {
			continue
		}
		ser.Requests[i], ser.Errors[i], ser.ColdStarts[i] = s.requests, s.errors, s.coldStarts
		ser.CacheHits[i], ser.CacheMisses[i], ser.CacheErrors[i], ser.Queries[i] = s.cacheHits, s.cacheMisses, s.cacheErrs, s.queries
		for r, sm := range s.routes {
			routeCount[r] += sm.n
			routeFn[r] = s.routeFunction[r]
		}
		for p, sm := range s.pools {
			poolCount[p] += sm.n
		}
	}

	// bucketed returns name's p50 and p99 per bucket from the samples pick selects.
	bucketed := func(pick func(*slot) *sample) (p50, p99 []*float64) {
		n := ringSeconds / bucketSeconds
		p50, p99 = make([]*float64, n), make([]*float64, n)
		var buf []weighted
		for b := range n {
			buf = buf[:0]
			for j := range bucketSeconds {
				if s := live(start + int64(b*bucketSeconds+j)); s != nil {
					buf = collect(buf, pick(s))
				}
			}
			ps := percentiles(buf, 0.5, 0.99)
			p50[b], p99[b] = ps[0], ps[1]
		}
		return p50, p99
	}

	busiest := sortedKeys(routeCount, func(x, y string) int {
		return cmp.Or(cmp.Compare(routeCount[y], routeCount[x]), cmp.Compare(x, y))
	})
	for _, r := range busiest[:min(len(busiest), maxLatencySeries)] {
		p50, p99 := bucketed(func(s *slot) *sample { return s.routes[r] })
		ser.Latency = append(ser.Latency, LatencySeries{Name: r, Function: routeFn[r], Count: routeCount[r], P50: p50, P99: p99})
	}
	for _, p := range sortedKeys(poolCount, cmp.Compare[string]) {
		p50, p99 := bucketed(func(s *slot) *sample { return s.pools[p] })
		ser.QueryTime = append(ser.QueryTime, LatencySeries{Name: p, Count: poolCount[p], P50: p50, P99: p99})
	}

	// The window: the last WindowSeconds seconds, the current one included.
	window := func(pick func(*slot) *sample) (n int, vs []weighted) {
		for sec := end - WindowSeconds + 1; sec <= end; sec++ {
			if s := live(sec); s != nil {
				if sm := pick(s); sm != nil {
					n += sm.n
					vs = collect(vs, sm)
				}
			}
		}
		return n, vs
	}

	// Routes: every route seen since start, its totals summed over status classes.
	type routeTotal struct {
		fn            string
		total, errors uint64
	}
	totals := map[string]*routeTotal{}
	for k, rs := range a.requests {
		label := routeLabel(k.Method, k.Route)
		t := totals[label]
		if t == nil {
			t = &routeTotal{fn: k.Function}
			totals[label] = t
		}
		t.total += rs.count
		t.errors += rs.errors
	}
	for _, r := range sortedKeys(totals, cmp.Compare[string]) {
		t := totals[r]
		n, vs := window(func(s *slot) *sample { return s.routes[r] })
		ps := percentiles(vs, 0.5, 0.9, 0.99, 1)
		snap.Routes = append(snap.Routes, RouteFigures{
			Route: r, Function: t.fn, Total: t.total, Errors: t.errors, Window: n,
			Rate: float64(n) / WindowSeconds, P50: ps[0], P90: ps[1], P99: ps[2], Max: ps[3],
		})
	}

	for _, fn := range sortedKeys(a.functions, cmp.Compare[string]) {
		fs := a.functions[fn]
		ft := FunctionTotals{
			Function: fn, Requests: fs.requests, ColdStarts: fs.coldStarts, CacheHits: fs.cacheHits,
			CacheMisses: fs.cacheMisses, CacheErrors: fs.cacheErrors, Queries: fs.queries,
		}
		if n := fs.cacheHits + fs.cacheMisses; n > 0 {
			ft.CacheHitRate = ptr(float64(fs.cacheHits) / float64(n))
		}
		snap.Functions = append(snap.Functions, ft)
	}

	poolTotals := map[string]*histogram{}
	for k, h := range a.queries {
		t := poolTotals[k.Pool]
		if t == nil {
			t = &histogram{}
			poolTotals[k.Pool] = t
		}
		t.count += h.count
		t.sum += h.sum
	}
	for _, p := range sortedKeys(poolTotals, cmp.Compare[string]) {
		n, vs := window(func(s *slot) *sample { return s.pools[p] })
		ps := percentiles(vs, 0.5, 0.99)
		snap.Pools = append(snap.Pools, PoolFigures{
			Pool: p, Total: poolTotals[p].count, TotalMS: poolTotals[p].sum, Window: n, P50: ps[0], P99: ps[1],
		})
	}
	return snap
}
