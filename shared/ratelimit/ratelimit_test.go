package ratelimit

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"scaleapi/shared/auth"
	"scaleapi/shared/devservices/devtest"
)

func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

// targets returns two independent clients (two execution environments) per Redis deployment.
func targets(t *testing.T) map[string][2]redis.UniversalClient {
	t.Helper()
	st := devtest.Services(t)
	opt, err := redis.ParseURL(st.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	copt, err := redis.ParseClusterURL(st.RedisClusterURL)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]redis.UniversalClient{
		"Standalone": {redis.NewClient(opt), redis.NewClient(opt)},
		"Cluster":    {redis.NewClusterClient(copt), redis.NewClusterClient(copt)},
	}
	for _, pair := range out {
		for _, c := range pair {
			t.Cleanup(func() { _ = c.Close() })
		}
	}
	return out
}

func newLimiter(t *testing.T, rdb redis.UniversalClient, limit int, period time.Duration) *Limiter {
	t.Helper()
	l, err := New(rdb, limit, period)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAllowSharedAcrossEnvironments(t *testing.T) {
	for name, pair := range targets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a := newLimiter(t, pair[0], 5, time.Minute)
			b := newLimiter(t, pair[1], 5, time.Minute)
			key := "test:" + uuid.NewString()
			// Alternate environments: the allowance is one, wherever the requests land.
			for i := range 5 {
				l := a
				if i%2 == 1 {
					l = b
				}
				res, err := l.Allow(ctx, key)
				if err != nil || !res.Allowed {
					t.Fatalf("request %d: %+v, %v; want allowed", i+1, res, err)
				}
				if res.Remaining != 4-i {
					t.Fatalf("request %d: remaining %d, want %d", i+1, res.Remaining, 4-i)
				}
			}
			res, err := b.Allow(ctx, key)
			if err != nil || res.Allowed {
				t.Fatalf("6th request: %+v, %v; want refused", res, err)
			}
			// One cell is 60 s / 5 = 12 s; the next is due when the oldest one has drained.
			if res.RetryAfter <= 11*time.Second || res.RetryAfter > 12*time.Second {
				t.Fatalf("RetryAfter %v, want just under 12 s", res.RetryAfter)
			}
			// Another key has its own allowance.
			if res, _ := a.Allow(ctx, "test:"+uuid.NewString()); !res.Allowed {
				t.Fatal("a fresh key was refused")
			}
		})
	}
}

func TestAllowRefills(t *testing.T) {
	rdb := targets(t)["Standalone"][0]
	ctx := context.Background()
	// One cell per second: slow enough that a loaded machine taking a few hundred milliseconds
	// between two calls doesn't see a second cell come back.
	l := newLimiter(t, rdb, 10, 10*time.Second)
	key := "test:" + uuid.NewString()
	for range 10 {
		if res, _ := l.Allow(ctx, key); !res.Allowed {
			t.Fatal("burst refused")
		}
	}
	res, _ := l.Allow(ctx, key)
	if res.Allowed {
		t.Fatal("11th request of a burst of 10 allowed")
	}
	time.Sleep(res.RetryAfter + 50*time.Millisecond)
	if res, _ := l.Allow(ctx, key); !res.Allowed {
		t.Fatalf("refused after waiting RetryAfter: %+v", res)
	}
	// Exactly one cell came back.
	if res, _ := l.Allow(ctx, key); res.Allowed {
		t.Fatal("two requests allowed after one cell's wait")
	}
}

func TestAllowConcurrent(t *testing.T) {
	for name, pair := range targets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ls := [2]*Limiter{newLimiter(t, pair[0], 20, time.Minute), newLimiter(t, pair[1], 20, time.Minute)}
			key := "test:" + uuid.NewString()
			var allowed atomic.Int64
			var wg sync.WaitGroup
			for i := range 60 {
				wg.Go(func() {
					if res, err := ls[i%2].Allow(ctx, key); err == nil && res.Allowed {
						allowed.Add(1)
					}
				})
			}
			wg.Wait()
			if n := allowed.Load(); n != 20 {
				t.Fatalf("%d of 60 concurrent requests allowed, want exactly 20", n)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	pair := targets(t)["Standalone"]
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	// Two environments, one allowance of 3 per minute per user.
	envs := []http.Handler{
		newLimiter(t, pair[0], 3, time.Minute).Middleware(ByUser)(ok),
		newLimiter(t, pair[1], 3, time.Minute).Middleware(ByUser)(ok),
	}
	user := auth.Principal{UserID: uuid.New(), SessionID: uuid.New()}
	do := func(i int, p *auth.Principal, ip string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/projects", nil)
		req.RemoteAddr = ip + ":4711"
		if p != nil {
			req = req.WithContext(auth.WithPrincipal(req.Context(), *p))
		}
		rec := httptest.NewRecorder()
		envs[i%2].ServeHTTP(rec, req)
		return rec
	}

	t.Run("PerUser", func(t *testing.T) {
		for i := range 3 {
			if rec := do(i, &user, "192.0.2.1"); rec.Code != http.StatusNoContent {
				t.Fatalf("request %d: status %d", i+1, rec.Code)
			}
		}
		// From another IP: still the same user, still limited.
		rec := do(3, &user, "192.0.2.2")
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("4th request: status %d, want 429", rec.Code)
		}
		ra, err := strconv.Atoi(rec.Header().Get("Retry-After"))
		if err != nil || ra < 19 || ra > 20 {
			t.Fatalf("Retry-After %q, want 20 (seconds, rounded up)", rec.Header().Get("Retry-After"))
		}
		var p struct {
			Status int    `json:"status"`
			Title  string `json:"title"`
		}
		if rec.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != 429 {
			t.Fatalf("429 body %q (%s)", rec.Body, rec.Header().Get("Content-Type"))
		}
		// Another user is not affected.
		other := auth.Principal{UserID: uuid.New(), SessionID: uuid.New()}
		if rec := do(4, &other, "192.0.2.1"); rec.Code != http.StatusNoContent {
			t.Fatalf("another user: status %d", rec.Code)
		}
	})

	t.Run("PerIPWithoutPrincipal", func(t *testing.T) {
		ip := "198.51.100." + strconv.Itoa(int(time.Now().UnixNano()%250)+1)
		// Clear any allowance left from an earlier run of this test on a shared Redis.
		pair[0].Del(context.Background(), "rl:ip:"+ip)
		for i := range 3 {
			if rec := do(i, nil, ip); rec.Code != http.StatusNoContent {
				t.Fatalf("request %d: status %d", i+1, rec.Code)
			}
		}
		if rec := do(3, nil, ip); rec.Code != http.StatusTooManyRequests {
			t.Fatalf("4th request from one IP: status %d, want 429", rec.Code)
		}
	})
}

func TestFailOpen(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	l := newLimiter(t, dead, 1, time.Minute)
	var hooked atomic.Int64
	l.OnFailOpen = func(context.Context, error) { hooked.Add(1) }
	h := l.Middleware(ByIP)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for i := range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("request %d with Redis down: status %d, want it through", i+1, rec.Code)
		}
	}
	if l.FailOpens() != 3 || hooked.Load() != 3 {
		t.Fatalf("FailOpens %d, hook %d; want 3 and 3", l.FailOpens(), hooked.Load())
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{
		0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 11900 * time.Millisecond: 12,
	} {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestNewRejectsBadLimits(t *testing.T) {
	if _, err := New(nil, 0, time.Minute); err == nil {
		t.Fatal("limit 0 accepted")
	}
	if _, err := New(nil, 1, 0); err == nil {
		t.Fatal("period 0 accepted")
	}
}

// BenchmarkAllow measures one GCRA decision on the harness's standalone Redis over loopback.
func BenchmarkAllow(b *testing.B) {
	opt, err := redis.ParseURL(devtest.Services(b).RedisURL)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	b.Cleanup(func() { _ = rdb.Close() })
	l, err := New(rdb, 1<<30, time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	key := "bench:" + uuid.NewString()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Allow(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

// loadEverywhere loads script on every master of rdb (the one server of a standalone client).
func loadEverywhere(ctx context.Context, rdb redis.UniversalClient, script *redis.Script) error {
	if c, ok := rdb.(*redis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return script.Load(ctx, m).Err() })
	}
	return script.Load(ctx, rdb).Err()
}

// TestJoinedWithSessionCheck runs the limiter behind auth's Require, as every function wires
// it: the decision rides in the session check's round trip and behaves as the limiter alone does.
func TestJoinedWithSessionCheck(t *testing.T) {
	for name, pair := range targets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			rdb := pair[0]
			var trips devtest.RoundTrips
			rdb.AddHook(&trips)
			tokens, err := auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
			if err != nil {
				t.Fatal(err)
			}
			sessions := auth.NewSessions(rdb, time.Hour)
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
			h := auth.NewAuthenticator(tokens, sessions).Require(newLimiter(t, rdb, 3, time.Minute).Middleware(ByUser)(ok))
			// Another environment, wired without auth in front: one allowance all the same.
			other := newLimiter(t, pair[1], 3, time.Minute).Middleware(ByUser)(ok)

			login := func(uid uuid.UUID) (uuid.UUID, string) {
				t.Helper()
				sid, _, err := sessions.Create(ctx, uid)
				if err != nil {
					t.Fatal(err)
				}
				access, _, err := tokens.Issue(uid, sid)
				if err != nil {
					t.Fatal(err)
				}
				return sid, access
			}
			do := func(access string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodGet, "/projects", nil)
				req.Header.Set("Authorization", "Bearer "+access)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}

			uid := uuid.New()
			_, access := login(uid)
			// A node that has not seen the script yet answers NOSCRIPT and costs one more trip
			// (the EVAL fallback); on a cluster the key may land on any master, so load the
			// script everywhere first: the count below is about the steady state.
			if err := loadEverywhere(ctx, rdb, gcraScript); err != nil {
				t.Fatal(err)
			}
			trips.Reset()
			for i := range 2 {
				rec := do(access)
				if rec.Code != http.StatusNoContent || rec.Header().Get("RateLimit-Remaining") != strconv.Itoa(2-i) {
					t.Fatalf("request %d: status %d, remaining %q", i+1, rec.Code, rec.Header().Get("RateLimit-Remaining"))
				}
			}
			if n := trips.N(); n != 2 {
				t.Fatalf("%d round trips for 2 requests, want 2: session check and rate limit in one", n)
			}
			req := httptest.NewRequest(http.MethodGet, "/projects", nil)
			req = req.WithContext(auth.WithPrincipal(req.Context(), auth.Principal{UserID: uid}))
			orec := httptest.NewRecorder()
			if other.ServeHTTP(orec, req); orec.Code != http.StatusNoContent {
				t.Fatalf("3rd request, other environment: status %d", orec.Code)
			}
			rec := do(access)
			if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "20" {
				t.Fatalf("4th request: status %d, Retry-After %q; want 429, 20", rec.Code, rec.Header().Get("Retry-After"))
			}

			t.Run("EndedSessionTakesNothing", func(t *testing.T) {
				uid := uuid.New()
				sid, access := login(uid)
				if rec := do(access); rec.Header().Get("RateLimit-Remaining") != "2" {
					t.Fatalf("first request: status %d, remaining %q", rec.Code, rec.Header().Get("RateLimit-Remaining"))
				}
				if err := sessions.Revoke(ctx, sid); err != nil {
					t.Fatal(err)
				}
				for range 3 {
					if rec := do(access); rec.Code != http.StatusUnauthorized {
						t.Fatalf("revoked session: status %d, want 401", rec.Code)
					}
				}
				_, access = login(uid)
				if rec := do(access); rec.Code != http.StatusNoContent || rec.Header().Get("RateLimit-Remaining") != "1" {
					t.Fatalf("after 3 refused requests: status %d, remaining %q; want 204, 1 (refused ones refunded)",
						rec.Code, rec.Header().Get("RateLimit-Remaining"))
				}
			})

			if name != "Standalone" {
				return
			}
			t.Run("ScriptNotLoaded", func(t *testing.T) {
				// Redis restarted since the script was loaded: the pipelined EVALSHA fails and
				// the decision is taken again with EVAL.
				if err := rdb.ScriptFlush(ctx).Err(); err != nil {
					t.Fatal(err)
				}
				_, access := login(uuid.New())
				for i := range 4 {
					want := http.StatusNoContent
					if i == 3 {
						want = http.StatusTooManyRequests
					}
					if rec := do(access); rec.Code != want {
						t.Fatalf("request %d after SCRIPT FLUSH: status %d, want %d", i+1, rec.Code, want)
					}
				}
			})
		})
	}
}

// BenchmarkRequireAndLimit measures auth's Require with the limiter behind it, as the functions
// wire them: token verification, then the session check and the GCRA decision in one round trip.
func BenchmarkRequireAndLimit(b *testing.B) {
	opt, err := redis.ParseURL(devtest.Services(b).RedisURL)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	b.Cleanup(func() { _ = rdb.Close() })
	tokens, err := auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	sessions := auth.NewSessions(rdb, time.Hour)
	uid := uuid.New()
	sid, _, err := sessions.Create(context.Background(), uid)
	if err != nil {
		b.Fatal(err)
	}
	access, _, _ := tokens.Issue(uid, sid)
	l, err := New(rdb, 1<<30, time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	limited := l.Middleware(ByUser)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/projects", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	for name, next := range map[string]http.Handler{
		"Joined": limited,
		// Hidden behind a plain HandlerFunc, the limiter can't join: two round trips.
		"Sequential": http.HandlerFunc(limited.ServeHTTP),
	} {
		h := auth.NewAuthenticator(tokens, sessions).Require(next)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// joinerProbe is a handler after the limiter whose own command rides the session check's
// pipeline, recording what became of each request.
type joinerProbe struct {
	queued, served, abandoned int
}

func (p *joinerProbe) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

func (p *joinerProbe) JoinSessionCheck(_ redis.UniversalClient, pipe redis.Pipeliner, r *http.Request) auth.Joined {
	p.queued++
	pipe.Get(r.Context(), "probe:"+uuid.NewString())
	return probeJoined{p}
}

type probeJoined struct{ p *joinerProbe }

func (j probeJoined) Serve(w http.ResponseWriter, r *http.Request) {
	j.p.served++
	j.p.ServeHTTP(w, r)
}
func (j probeJoined) Abandon(context.Context) { j.p.abandoned++ }

// TestJoinerBehindTheLimiter: a Joiner after the limiter (guard.Prefetching's reads) rides the
// same round trip as the session check and the limit; it is served when both let the request
// through and abandoned when either refuses it.
func TestJoinerBehindTheLimiter(t *testing.T) {
	ctx := context.Background()
	rdb := targets(t)["Standalone"][0]
	if err := loadEverywhere(ctx, rdb, gcraScript); err != nil {
		t.Fatal(err)
	}
	var trips devtest.RoundTrips
	rdb.AddHook(&trips)
	tokens, err := auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	sessions := auth.NewSessions(rdb, time.Hour)
	probe := &joinerProbe{}
	h := auth.NewAuthenticator(tokens, sessions).Require(newLimiter(t, rdb, 2, time.Minute).Middleware(ByUser)(probe))
	sid, _, err := sessions.Create(ctx, uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	access, _, err := tokens.Issue(uuid.New(), sid)
	if err != nil {
		t.Fatal(err)
	}
	do := func() int {
		req := httptest.NewRequest(http.MethodGet, "/projects/x", nil)
		req.Header.Set("Authorization", "Bearer "+access)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	trips.Reset()
	for i := range 2 {
		if code := do(); code != http.StatusNoContent {
			t.Fatalf("request %d: %d", i+1, code)
		}
	}
	if n := trips.N(); n != 2 || probe.queued != 2 || probe.served != 2 || probe.abandoned != 0 {
		t.Fatalf("allowed: %d round trips, queued %d, served %d, abandoned %d; want 2, 2, 2, 0", n, probe.queued, probe.served, probe.abandoned)
	}
	if code := do(); code != http.StatusTooManyRequests || probe.served != 2 || probe.abandoned != 1 {
		t.Fatalf("limited: %d, served %d, abandoned %d; want 429, 2, 1", code, probe.served, probe.abandoned)
	}
	if err := sessions.Revoke(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if code := do(); code != http.StatusUnauthorized || probe.served != 2 || probe.abandoned != 2 {
		t.Fatalf("ended session: %d, served %d, abandoned %d; want 401, 2, 2", code, probe.served, probe.abandoned)
	}
}
