package idempotency

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
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
	return map[string][2]redis.UniversalClient{
		"Standalone": {devtest.Redis(t), devtest.Redis(t)},
		"Cluster":    {devtest.RedisCluster(t), devtest.RedisCluster(t)},
	}
}

// creator is a handler that creates a numbered resource per call and echoes the body it read.
type creator struct {
	calls  atomic.Int64
	status int           // answer status; 201 if zero
	gate   chan struct{} // if set, each call waits on it
}

func (c *creator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.calls.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	body, _ := io.ReadAll(r.Body)
	status := c.status
	if status == 0 {
		status = http.StatusCreated
	}
	id := uuid.NewString()
	w.Header().Set("Location", "/projects/"+id)
	w.Header().Set("ETag", `"1"`)
	w.Header().Set("X-Request-Id", "not-stored")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"id":%q,"call":%d,"echo":%q}`, id, n, body)
}

type request struct {
	method, path, key, body string
	user                    *auth.Principal
	ip                      string
}

func (rq request) do(h http.Handler) *httptest.ResponseRecorder {
	if rq.method == "" {
		rq.method = http.MethodPost
	}
	if rq.path == "" {
		rq.path = "/projects"
	}
	req := httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
	req.Header.Set("Content-Type", "application/json")
	if rq.key != "" {
		req.Header.Set(Header, rq.key)
	}
	if rq.ip != "" {
		req.RemoteAddr = rq.ip + ":1234"
	}
	if rq.user != nil {
		req = req.WithContext(auth.WithPrincipal(req.Context(), *rq.user))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func newUser() *auth.Principal { return &auth.Principal{UserID: uuid.New(), SessionID: uuid.New()} }

func problemStatus(t *testing.T, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status %d, want %d; body %s", rec.Code, want, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want problem+json", ct)
	}
}

func TestReplay(t *testing.T) {
	for name, pair := range targets(t) {
		t.Run(name, func(t *testing.T) {
			c := &creator{}
			env1, env2 := New(pair[0]).Middleware(c), New(pair[1]).Middleware(c)
			rq := request{key: uuid.NewString(), body: `{"name":"apollo"}`, user: newUser()}

			first := rq.do(env1)
			if first.Code != http.StatusCreated || first.Header().Get(ReplayedHeader) != "" {
				t.Fatalf("first: %d %v", first.Code, first.Header())
			}
			if !strings.Contains(first.Body.String(), `"echo":"{\"name\":\"apollo\"}"`) {
				t.Fatalf("handler did not get the body: %s", first.Body)
			}
			// The retry lands in another environment.
			second := rq.do(env2)
			if second.Code != http.StatusCreated || second.Body.String() != first.Body.String() {
				t.Fatalf("replay: %d %s, want %d %s", second.Code, second.Body, first.Code, first.Body)
			}
			if second.Header().Get(ReplayedHeader) != "true" {
				t.Fatal("replay lacks Idempotent-Replayed: true")
			}
			for _, h := range []string{"Location", "ETag", "Content-Type"} {
				if second.Header().Get(h) != first.Header().Get(h) {
					t.Errorf("replayed %s %q, want %q", h, second.Header().Get(h), first.Header().Get(h))
				}
			}
			if second.Header().Get("X-Request-Id") != "" {
				t.Error("a header outside the stored subset was replayed")
			}
			if n := c.calls.Load(); n != 1 {
				t.Fatalf("handler ran %d times, want 1", n)
			}

			t.Run("OtherBody422", func(t *testing.T) {
				other := rq
				other.body = `{"name":"gemini"}`
				problemStatus(t, other.do(env2), http.StatusUnprocessableEntity)
			})
			t.Run("OtherUserIndependent", func(t *testing.T) {
				other := rq
				other.user = newUser()
				if rec := other.do(env1); rec.Code != http.StatusCreated || rec.Header().Get(ReplayedHeader) != "" {
					t.Fatalf("another user's first use of the key: %d, replayed %q", rec.Code, rec.Header().Get(ReplayedHeader))
				}
			})
			t.Run("OtherPathIndependent", func(t *testing.T) {
				other := rq
				other.path = "/tasks"
				if rec := other.do(env1); rec.Code != http.StatusCreated || rec.Header().Get(ReplayedHeader) != "" {
					t.Fatalf("the key on another route: %d, replayed %q", rec.Code, rec.Header().Get(ReplayedHeader))
				}
			})
		})
	}
}

func TestInFlight(t *testing.T) {
	pair := targets(t)["Standalone"]
	c := &creator{gate: make(chan struct{})}
	env1, env2 := New(pair[0]).Middleware(c), New(pair[1]).Middleware(c)
	rq := request{key: uuid.NewString(), body: `{"name":"apollo"}`, user: newUser()}

	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- rq.do(env1) }()
	for c.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	problemStatus(t, rq.do(env2), http.StatusConflict)
	other := rq
	other.body = `{"name":"gemini"}`
	problemStatus(t, other.do(env2), http.StatusUnprocessableEntity)

	close(c.gate)
	if rec := <-done; rec.Code != http.StatusCreated {
		t.Fatalf("first request: %d", rec.Code)
	}
	if rec := rq.do(env2); rec.Header().Get(ReplayedHeader) != "true" {
		t.Fatalf("after completion: %d, not a replay", rec.Code)
	}
	if n := c.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times", n)
	}
}

func TestServerErrorNotStored(t *testing.T) {
	rdb := targets(t)["Standalone"][0]
	c := &creator{status: http.StatusServiceUnavailable}
	h := New(rdb).Middleware(c)
	rq := request{key: uuid.NewString(), body: `{}`, user: newUser()}
	if rec := rq.do(h); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("first: %d", rec.Code)
	}
	c.status = http.StatusCreated
	rec := rq.do(h)
	if rec.Code != http.StatusCreated || rec.Header().Get(ReplayedHeader) != "" || c.calls.Load() != 2 {
		t.Fatalf("retry after a 503: %d, replayed %q, calls %d; want a fresh run", rec.Code, rec.Header().Get(ReplayedHeader), c.calls.Load())
	}
}

func TestClientErrorStored(t *testing.T) {
	rdb := targets(t)["Standalone"][0]
	c := &creator{status: http.StatusConflict}
	h := New(rdb).Middleware(c)
	rq := request{key: uuid.NewString(), body: `{}`, user: newUser()}
	first := rq.do(h)
	second := rq.do(h)
	if second.Code != http.StatusConflict || second.Header().Get(ReplayedHeader) != "true" || second.Body.String() != first.Body.String() {
		t.Fatalf("a 4xx answer was not replayed: %d %q", second.Code, second.Header().Get(ReplayedHeader))
	}
}

func TestPanicReleases(t *testing.T) {
	rdb := targets(t)["Standalone"][0]
	var panicked atomic.Bool
	h := New(rdb).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if panicked.CompareAndSwap(false, true) {
			panic("boom")
		}
		w.WriteHeader(http.StatusCreated)
	}))
	rq := request{key: uuid.NewString(), body: `{}`, user: newUser()}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic did not propagate to the recovery middleware")
			}
		}()
		rq.do(h)
	}()
	if rec := rq.do(h); rec.Code != http.StatusCreated {
		t.Fatalf("retry after a panic: %d, want a fresh run", rec.Code)
	}
}

func TestExpiredLockNotOverwritten(t *testing.T) {
	// A request that outlives its marker must not overwrite the answer of the retry that took
	// over: the owner token decides.
	rdb := targets(t)["Standalone"][0]
	slow := &creator{gate: make(chan struct{})}
	fast := &creator{}
	s := New(rdb, WithLockTTL(time.Second))
	rq := request{key: uuid.NewString(), body: `{}`, user: newUser()}

	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- rq.do(s.Middleware(slow)) }()
	for slow.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(1100 * time.Millisecond)
	took := rq.do(s.Middleware(fast))
	if took.Code != http.StatusCreated || took.Header().Get(ReplayedHeader) != "" {
		t.Fatalf("retry after the marker expired: %d", took.Code)
	}
	close(slow.gate)
	<-done
	replay := rq.do(s.Middleware(fast))
	if replay.Body.String() != took.Body.String() {
		t.Fatalf("replay %s, want the retry's answer %s", replay.Body, took.Body)
	}
}

func TestPublicScopeByIP(t *testing.T) {
	rdb := targets(t)["Standalone"][0]
	c := &creator{}
	h := New(rdb).Middleware(c)
	key := uuid.NewString()
	a := request{key: key, body: `{}`, ip: "192.0.2.10"}
	b := request{key: key, body: `{}`, ip: "192.0.2.11"}
	a.do(h)
	if rec := a.do(h); rec.Header().Get(ReplayedHeader) != "true" {
		t.Fatal("same IP, same key: not replayed")
	}
	if rec := b.do(h); rec.Header().Get(ReplayedHeader) != "" {
		t.Fatal("another IP got the first IP's answer")
	}
}

func TestRecordTTL(t *testing.T) {
	rdb := targets(t)["Standalone"][0]
	c := &creator{gate: make(chan struct{})}
	h := New(rdb).Middleware(c)
	user := newUser()
	rq := request{key: uuid.NewString(), body: `{}`, user: user}
	key := recordKey("u:"+user.UserID.String(), http.MethodPost, "/projects", rq.key)

	// With a deadline (the Lambda invocation's), the marker lives until just past it.
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req := httptest.NewRequestWithContext(auth.WithPrincipal(ctx, *user), http.MethodPost, "/projects", strings.NewReader(rq.body))
		req.Header.Set(Header, rq.key)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}()
	for c.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if ttl := rdb.PTTL(context.Background(), key).Val(); ttl < 14*time.Second || ttl > 15*time.Second {
		t.Errorf("in-flight TTL %v, want deadline (10 s) + margin (5 s)", ttl)
	}
	close(c.gate)
	<-done
	if ttl := rdb.PTTL(context.Background(), key).Val(); ttl < 23*time.Hour || ttl > 24*time.Hour {
		t.Errorf("answer TTL %v, want 24 h", ttl)
	}
}

func TestPassThrough(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	c := &creator{}
	h := New(dead).Middleware(c)
	// Neither touches Redis, so the dead client is never asked.
	if rec := (request{body: `{}`}).do(h); rec.Code != http.StatusCreated {
		t.Fatalf("POST without a key: %d", rec.Code)
	}
	if rec := (request{method: http.MethodPatch, key: "k", body: `{}`}).do(h); rec.Code != http.StatusCreated {
		t.Fatalf("PATCH with a key: %d", rec.Code)
	}
	t.Run("RedisDown503", func(t *testing.T) {
		rec := (request{key: "k", body: `{}`}).do(h)
		problemStatus(t, rec, http.StatusServiceUnavailable)
		if rec.Header().Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
	})
}

func TestInvalidKey(t *testing.T) {
	h := New(nil).Middleware(&creator{}) // refused before Redis
	for name, key := range map[string]string{
		"TooLong":     strings.Repeat("k", MaxKeyLen+1),
		"ControlChar": "abc\x01",
		"NonASCII":    "clé",
	} {
		t.Run(name, func(t *testing.T) {
			problemStatus(t, (request{key: key, body: `{}`}).do(h), http.StatusBadRequest)
		})
	}
	t.Run("Empty", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/projects", strings.NewReader(`{}`))
		req.Header[Header] = []string{""}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		problemStatus(t, rec, http.StatusBadRequest)
	})
	if !ValidKey(strings.Repeat("k", MaxKeyLen)) || !ValidKey("a b~") {
		t.Fatal("valid keys refused")
	}
}

func TestBodyTooLarge(t *testing.T) {
	h := New(nil).Middleware(&creator{})
	big := `{"x":"` + strings.Repeat("a", 1<<20) + `"}`
	rec := (request{key: "k", body: big}).do(h)
	problemStatus(t, rec, http.StatusRequestEntityTooLarge)
	var p struct{ Status int }
	_ = json.Unmarshal(rec.Body.Bytes(), &p)
	if p.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("problem status %d", p.Status)
	}
}
