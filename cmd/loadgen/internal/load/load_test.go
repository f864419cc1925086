package load

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"scaleapi/cmd/loadgen/internal/seed"
)

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:3000", true},
		{"http://127.0.0.2:3000/", true},
		{"http://localhost:3000", true},
		{"http://[::1]:3000", true},
		{"http://10.0.0.1:3000", false},
		{"http://example.com", false},
		{"http://localhost.example.com", false},
		{"https://127.0.0.1:3000", false},
		{"127.0.0.1:3000", false},
	} {
		_, err := CheckLoopback(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

func TestClientRefusesNonLoopbackAddresses(t *testing.T) {
	c := NewClient(1, time.Second)
	// 192.0.2.0/24 is TEST-NET-1: nothing is dialled, the dialer refuses before it tries.
	_, err := c.Get("http://192.0.2.1/")
	if !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("Get of a non-loopback address: %v, want ErrNotLoopback", err)
	}
}

// workload returns a Workload over srv with two users in two organizations.
func workload(srv *httptest.Server) *Workload {
	d := &seed.Dataset{}
	for range 2 {
		o := seed.Org{ID: uuid.New()}
		for range 50 {
			o.Projects = append(o.Projects, uuid.New())
		}
		d.Orgs = append(d.Orgs, o)
	}
	d.Users = []seed.User{{ID: uuid.New(), Email: "a@x", Orgs: []int{0}}, {ID: uuid.New(), Email: "b@x", Orgs: []int{0, 1}}}
	return &Workload{Base: srv.URL, Data: d, Sessions: []Session{{User: &d.Users[0], Auth: "Bearer a"}, {User: &d.Users[1], Auth: "Bearer b"}}}
}

func TestClosedLoopCountsEveryAnswer(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			t.Errorf("request without a token: %s %s", r.Method, r.URL)
		}
		if n.Add(1)%10 == 0 {
			http.Error(w, `{"title":"nope"}`, http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"id":"x"}`))
	}))
	defer srv.Close()
	r := &Runner{Client: NewClient(4, 5*time.Second), Workload: workload(srv)}
	res := r.Run(context.Background(), &Scenario{Name: "mix", Ops: Mix(), Mode: Mode{Concurrency: 4}, Duration: 300 * time.Millisecond})

	if got, want := res.Total.Count(), n.Load(); got != want {
		t.Errorf("recorded %d requests, the server answered %d", got, want)
	}
	if res.Total.Status[http.StatusTooManyRequests] == 0 || res.Total.OK()+res.Total.Status[http.StatusTooManyRequests] != res.Total.Count() {
		t.Errorf("status counts %v of %d", res.Total.Status, res.Total.Count())
	}
	if s := res.Endpoints[EndpointGetProject]; s == nil || s.Count() < res.Endpoints[EndpointCreateProject].Count() {
		t.Errorf("the mix's 70 %% GET got fewer requests than its 5 %% POST: %v", res.Endpoints)
	}
	if len(res.Total.Samples) != 0 {
		t.Errorf("merged totals carry samples")
	}
	if samples := res.Endpoints[EndpointGetProject].Samples[429]; len(samples) == 0 || !strings.Contains(samples[0], "nope") {
		t.Errorf("429 samples = %q", samples)
	}
}

// An open-loop run must charge a server stall to every request that fell due during it, which a
// closed loop would not send at all.
func TestOpenLoopChargesStallsFromTheDueTime(t *testing.T) {
	var stalled atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stalled.CompareAndSwap(false, true) {
			time.Sleep(300 * time.Millisecond)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	r := &Runner{Client: NewClient(1, 5*time.Second), Workload: workload(srv)}
	// One worker: while it waits out the stall, the requests due every 10 ms pile up.
	res := r.Run(context.Background(), &Scenario{Name: "open", Ops: Only(GetProject), Mode: Mode{Rate: 100, Workers: 1}, Duration: time.Second})

	h := res.Total.Hist
	if h.TotalCount() < 90 {
		t.Fatalf("%d requests at 100/s for 1 s", h.TotalCount())
	}
	// The stalled request and the ~30 due during it all carry latencies of up to 300 ms: far
	// more than 1 % of the requests are slow, so even p90 shows the stall.
	if p90 := time.Duration(h.ValueAtQuantile(90)) * time.Microsecond; p90 < 50*time.Millisecond {
		t.Errorf("p90 = %s: the stall is hidden", p90)
	}
	if res.Late == 0 {
		t.Errorf("no request was counted late")
	}
}

func TestZipfPrefersTheFirstProjects(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	w := workload(srv)
	g := newGen(w, 1, 1)
	counts := map[string]int{}
	for range 10_000 {
		g.next()
		counts[g.project()]++
	}
	hot := counts[w.Data.Orgs[0].Projects[0].String()] + counts[w.Data.Orgs[1].Projects[0].String()]
	cold := counts[w.Data.Orgs[0].Projects[49].String()] + counts[w.Data.Orgs[1].Projects[49].String()]
	if hot < 10*cold || hot < 1000 {
		t.Errorf("rank 0 drew %d, rank 49 drew %d of 10,000: not Zipf-skewed", hot, cold)
	}
}

func TestPrimeReadsEveryProjectAsAMember(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/projects/") || r.Header.Get("Authorization") == "" {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	w := workload(srv)
	got, failed, err := Prime(context.Background(), NewClient(4, 5*time.Second), w, 4)
	if err != nil || got != 100 || failed != 0 || n.Load() != 100 {
		t.Fatalf("Prime = %d, %d failed, %v; the server saw %d (want 100 of 100)", got, failed, err, n.Load())
	}
}
