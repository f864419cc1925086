package metricsview

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"scaleapi/shared/metrics"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestAggregator() (*Aggregator, *clock) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	return newAggregator(c.now), c
}

// emit returns the line shared/metrics writes for l, prefixed as lambdaenv prefixes a
// function's output lines.
func emit(t *testing.T, function string, l metrics.Line) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := metrics.NewEmitter(&buf, "ScaleAPI", function).Emit(l); err != nil {
		t.Fatal(err)
	}
	return append([]byte(function+"[1] "), buf.Bytes()...)
}

// snapshot builds a record's snapshot through shared/metrics' own recording calls.
func snapshot(hits, misses int, queries map[string][]time.Duration) metrics.Snapshot {
	ctx, rec := metrics.WithRecord(context.Background())
	for range hits {
		metrics.CacheHit(ctx)
	}
	for range misses {
		metrics.CacheMiss(ctx)
	}
	for pool, ds := range queries {
		for _, d := range ds {
			metrics.Query(ctx, pool, d, false)
		}
	}
	return rec.Snapshot()
}

// feedStandardLines feeds a small, known mix of requests through a Writer, as cmd/local does.
func feedStandardLines(t *testing.T, a *Aggregator) {
	t.Helper()
	var passed bytes.Buffer
	w := a.Writer(&passed)
	now := time.Unix(1_700_000_000, 0)
	write := func(b []byte) {
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	// GET /projects: a cold start with a miss and two primary queries, then two warm hits.
	write(emit(t, "projects", metrics.Line{Time: now, RequestID: "r1", Method: "GET", Route: "GET /projects",
		Status: 200, Duration: 40 * time.Millisecond, ColdStart: true,
		Record: snapshot(0, 1, map[string][]time.Duration{"primary": {3 * time.Millisecond, 1500 * time.Microsecond}})}))
	for i := range 2 {
		write(emit(t, "projects", metrics.Line{Time: now, RequestID: fmt.Sprint("r", i+2), Method: "GET", Route: "GET /projects",
			Status: 200, Duration: 3 * time.Millisecond, Record: snapshot(1, 0, nil)}))
	}
	// A 500 on another route, and a report from the replica.
	write(emit(t, "projects", metrics.Line{Time: now, RequestID: "r4", Method: "POST", Route: "POST /projects",
		Status: 500, Duration: 7 * time.Millisecond, Error: "boom", Record: snapshot(0, 0, nil)}))
	write(emit(t, "reports", metrics.Line{Time: now, RequestID: "r5", Method: "GET", Route: "GET /reports/organizations/{id}/summary",
		Status: 200, Duration: 12 * time.Millisecond, ColdStart: true,
		Record: snapshot(0, 0, map[string][]time.Duration{"replica": {8 * time.Millisecond}})}))
	// Lines that are not EMF lines are passed on and ignored.
	write([]byte("projects[1] plain text from a function\n"))
	write([]byte(`auth[1] {"level":"INFO","msg":"a log line without metrics"}` + "\n"))
	write([]byte("auth[1] {\"_aws\": not json\n"))
	if got := strings.Count(passed.String(), "\n"); got != 8 {
		t.Fatalf("%d lines passed on, want 8:\n%s", got, passed.String())
	}
}

func TestAggregatesEmitterLines(t *testing.T) {
	a, _ := newTestAggregator()
	feedStandardLines(t, a)
	s := a.Snapshot()
	if s.Lines != 5 {
		t.Fatalf("lines %d, want 5", s.Lines)
	}
	if a.malformed != 1 {
		t.Errorf("malformed %d, want 1", a.malformed)
	}
	routes := map[string]RouteFigures{}
	for _, r := range s.Routes {
		routes[r.Route] = r
	}
	if r := routes["GET /projects"]; r.Total != 3 || r.Window != 3 || r.Function != "projects" || r.Errors != 0 {
		t.Errorf("GET /projects: %+v", r)
	} else if *r.P50 != 3 || *r.Max != 40 {
		t.Errorf("GET /projects p50 %v max %v, want 3 and 40", *r.P50, *r.Max)
	}
	if r := routes["POST /projects"]; r.Total != 1 || r.Errors != 1 {
		t.Errorf("POST /projects: %+v", r)
	}
	fns := map[string]FunctionTotals{}
	for _, f := range s.Functions {
		fns[f.Function] = f
	}
	p := fns["projects"]
	if p.Requests != 4 || p.ColdStarts != 1 || p.CacheHits != 2 || p.CacheMisses != 1 || p.Queries != 2 {
		t.Errorf("projects: %+v", p)
	}
	if p.CacheHitRate == nil || math.Abs(*p.CacheHitRate-2.0/3) > 1e-9 {
		t.Errorf("projects hit rate %v", p.CacheHitRate)
	}
	if r := fns["reports"]; r.ColdStarts != 1 || r.Queries != 1 || r.CacheHitRate != nil {
		t.Errorf("reports: %+v", r)
	}
	pools := map[string]PoolFigures{}
	for _, p := range s.Pools {
		pools[p.Pool] = p
	}
	if p := pools["primary"]; p.Total != 2 || p.TotalMS != 4.5 || *p.P99 != 3 {
		t.Errorf("primary: %+v", p)
	}
	if p := pools["replica"]; p.Total != 1 || p.TotalMS != 8 {
		t.Errorf("replica: %+v", p)
	}
	last := len(s.Series.Requests) - 1
	if s.Series.Requests[last] != 5 || s.Series.Errors[last] != 1 || s.Series.ColdStarts[last] != 2 ||
		s.Series.CacheHits[last] != 2 || s.Series.CacheMisses[last] != 1 || s.Series.Queries[last] != 3 {
		t.Errorf("last second of the series: requests %d errors %d cold %d hits %d misses %d queries %d",
			s.Series.Requests[last], s.Series.Errors[last], s.Series.ColdStarts[last],
			s.Series.CacheHits[last], s.Series.CacheMisses[last], s.Series.Queries[last])
	}
	if len(s.Series.Latency) != 3 || s.Series.Latency[0].Name != "GET /projects" {
		t.Errorf("latency series: %+v", s.Series.Latency)
	}
}

func TestFeedIgnoresWhatIsNotEMF(t *testing.T) {
	a, _ := newTestAggregator()
	for _, l := range []string{
		"", "hello", `{"msg":"x"}`, `{"_aws":null,"function":"f"}`, `fn[1] {"msg":"_aws"}`, "[1,2]",
	} {
		if a.Feed([]byte(l)) {
			t.Errorf("Feed(%q) = true", l)
		}
	}
	if s := a.Snapshot(); s.Lines != 0 || len(s.Routes) != 0 {
		t.Errorf("ignored lines were aggregated: %+v", s)
	}
}

// TestWindow checks that percentiles and rates cover the last minute only, that the per-second
// series age out after five minutes, and that a busy second's sample does not outweigh its
// observations.
func TestWindow(t *testing.T) {
	a, c := newTestAggregator()
	feed := func(n int, ms float64) {
		for range n {
			line := fmt.Sprintf(`f[1] {"_aws":{},"function":"f","route":"GET /x","method":"GET","status":200,"duration_ms":%g}`, ms)
			if !a.Feed([]byte(line)) {
				t.Fatal("line not fed")
			}
		}
	}
	// 2000 fast requests in one second (sampled down to samplesPerSlot), 40 slow in the next.
	feed(2000, 1)
	c.add(time.Second)
	feed(40, 100)
	r := a.Snapshot().Routes[0]
	// Unweighted, the 40 slow ones would be 13% of the sampled values and p90 would be 100.
	if r.Window != 2040 || *r.P50 != 1 || *r.P90 != 1 || *r.P99 != 100 || *r.Max != 100 {
		t.Errorf("window %d p50 %v p90 %v p99 %v max %v; want 2040, 1, 1, 100, 100", r.Window, *r.P50, *r.P90, *r.P99, *r.Max)
	}
	if math.Abs(r.Rate-2040.0/WindowSeconds) > 1e-9 {
		t.Errorf("rate %v", r.Rate)
	}

	c.add(WindowSeconds * time.Second)
	s := a.Snapshot()
	r = s.Routes[0]
	if r.Window != 0 || r.P50 != nil || r.Total != 2040 {
		t.Errorf("after the window: %+v", r)
	}
	sum := 0
	for _, n := range s.Series.Requests {
		sum += n
	}
	if sum != 2040 {
		t.Errorf("series holds %d requests, want 2040", sum)
	}

	c.add(ringSeconds * time.Second)
	s = a.Snapshot()
	for i, n := range s.Series.Requests {
		if n != 0 {
			t.Fatalf("series[%d] = %d after five minutes", i, n)
		}
	}
	if len(s.Series.Latency) != 0 {
		t.Errorf("latency series after five minutes: %+v", s.Series.Latency)
	}
}

// TestPrometheusRoundTrip parses /_local/metrics' text with expfmt's own parser.
func TestPrometheusRoundTrip(t *testing.T) {
	a, _ := newTestAggregator()
	feedStandardLines(t, a)
	var buf bytes.Buffer
	if err := a.WritePrometheus(&buf); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	get := func(name string, labels map[string]string) *dto.Metric {
		t.Helper()
		f, ok := fams[name]
		if !ok {
			t.Fatalf("no %s in\n%s", name, buf.String())
		}
	next:
		for _, m := range f.Metric {
			if len(m.Label) != len(labels) {
				continue
			}
			for _, lp := range m.Label {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m
		}
		t.Fatalf("no %s%v in\n%s", name, labels, buf.String())
		return nil
	}
	getRoute := map[string]string{"function": "projects", "route": "GET /projects", "method": "GET", "status_class": "2xx"}
	if v := get("scaleapi_requests_total", getRoute).GetCounter().GetValue(); v != 3 {
		t.Errorf("requests_total %v, want 3", v)
	}
	h := get("scaleapi_request_duration_milliseconds", getRoute).GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() != 46 {
		t.Errorf("duration count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, b := range h.Bucket {
		want := uint64(0)
		switch {
		case b.GetUpperBound() >= 40:
			want = 3
		case b.GetUpperBound() >= 5: // 3 ms falls in the (2, 5] bucket
			want = 2
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if v := get("scaleapi_requests_total", map[string]string{"function": "projects", "route": "POST /projects", "method": "POST", "status_class": "5xx"}).GetCounter().GetValue(); v != 1 {
		t.Errorf("5xx requests %v", v)
	}
	if v := get("scaleapi_request_errors_total", map[string]string{"function": "projects", "route": "POST /projects", "method": "POST"}).GetCounter().GetValue(); v != 1 {
		t.Errorf("errors %v", v)
	}
	if v := get("scaleapi_request_errors_total", map[string]string{"function": "projects", "route": "GET /projects", "method": "GET"}).GetCounter().GetValue(); v != 0 {
		t.Errorf("errors on GET %v", v)
	}
	fn := map[string]string{"function": "projects"}
	for name, want := range map[string]float64{
		"scaleapi_cold_starts_total": 1, "scaleapi_cache_hits_total": 2, "scaleapi_cache_misses_total": 1,
		"scaleapi_cache_errors_total": 0, "scaleapi_db_queries_total": 2,
	} {
		if v := get(name, fn).GetCounter().GetValue(); v != want {
			t.Errorf("%s %v, want %v", name, v, want)
		}
	}
	if v := get("scaleapi_cache_hit_ratio", fn).GetGauge().GetValue(); math.Abs(v-2.0/3) > 1e-9 {
		t.Errorf("hit ratio %v", v)
	}
	q := get("scaleapi_db_query_duration_milliseconds", map[string]string{"function": "projects", "pool": "primary"}).GetHistogram()
	if q.GetSampleCount() != 2 || q.GetSampleSum() != 4.5 {
		t.Errorf("primary query histogram count %d sum %v", q.GetSampleCount(), q.GetSampleSum())
	}
	q = get("scaleapi_db_query_duration_milliseconds", map[string]string{"function": "reports", "pool": "replica"}).GetHistogram()
	if q.GetSampleCount() != 1 {
		t.Errorf("replica query histogram count %d", q.GetSampleCount())
	}
	if v := get("scaleapi_local_emf_lines_total", map[string]string{}).GetCounter().GetValue(); v != 5 {
		t.Errorf("emf lines %v", v)
	}
}

func TestHTTP(t *testing.T) {
	a, _ := newTestAggregator()
	feedStandardLines(t, a)
	srv := httptest.NewServer(a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gateway", http.StatusTeapot)
	})))
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := noRedirect.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	resp, body := get("/_local/metrics.json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("metrics.json: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	var s Snapshot
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	if s.Lines != 5 || len(s.Routes) != 3 || len(s.Functions) != 2 || len(s.Pools) != 2 || len(s.Series.Requests) != ringSeconds {
		t.Errorf("snapshot: lines %d routes %d functions %d pools %d series %d",
			s.Lines, len(s.Routes), len(s.Functions), len(s.Pools), len(s.Series.Requests))
	}
	// The page reads these members; nulls must stay nulls, not zeros.
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	ser := raw["series"].(map[string]any)
	for _, k := range []string{"start", "step", "requests", "errors", "coldStarts", "cacheHits", "cacheMisses", "queries", "latencyStep", "latency", "queryTime"} {
		if _, ok := ser[k]; !ok {
			t.Errorf("series lacks %q", k)
		}
	}
	if p50 := ser["latency"].([]any)[0].(map[string]any)["p50"].([]any); p50[0] != nil || p50[len(p50)-1] == nil {
		t.Errorf("latency p50: first %v last %v; want null and a value", p50[0], p50[len(p50)-1])
	}

	resp, body = get("/_local/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("metrics: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	if !bytes.Contains(body, []byte(`scaleapi_requests_total{function="projects",route="GET /projects",method="GET",status_class="2xx"} 3`)) {
		t.Errorf("metrics text:\n%s", body)
	}

	resp, body = get("/_local/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("page: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	// Offline: nothing the page loads may come from elsewhere.
	for _, bad := range []string{"src=\"http", "href=\"http", "src=\"//", "@import", "url(http"} {
		if bytes.Contains(body, []byte(bad)) {
			t.Errorf("page refers to an external resource (%s)", bad)
		}
	}
	if !bytes.Contains(body, []byte(`fetch("metrics.json"`)) {
		t.Error("page does not poll metrics.json")
	}

	if resp, _ = get("/_local"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/_local/" {
		t.Errorf("/_local: %s -> %q", resp.Status, resp.Header.Get("Location"))
	}
	if resp, _ = get("/_local/nothing"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/_local/nothing: %s", resp.Status)
	}
	for _, p := range []string{"/projects", "/", "/_localx", "/x/_local/"} {
		if resp, _ = get(p); resp.StatusCode != http.StatusTeapot {
			t.Errorf("%s did not reach the gateway: %s", p, resp.Status)
		}
	}
}

// TestConcurrentWrites feeds from several goroutines, as several function instances do, while
// the page and a scraper read.
func TestConcurrentWrites(t *testing.T) {
	a, _ := newTestAggregator()
	line := emit(t, "projects", metrics.Line{Time: time.Now(), RequestID: "r", Method: "GET", Route: "GET /projects",
		Status: 200, Duration: time.Millisecond, Record: snapshot(1, 1, map[string][]time.Duration{"primary": {time.Millisecond}})})
	w := a.Writer(io.Discard)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				_, _ = w.Write(line)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			a.Snapshot()
			_ = a.WritePrometheus(io.Discard)
		}
	})
	wg.Wait()
	if s := a.Snapshot(); s.Lines != 2000 || s.Functions[0].CacheHits != 2000 {
		t.Errorf("lines %d hits %d, want 2000", s.Lines, s.Functions[0].CacheHits)
	}
}
