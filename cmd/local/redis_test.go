package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/idempotency"
	"scaleapi/shared/ratelimit"
)

// These tests run the shared packages' own Redis code (their Lua scripts included) against the
// embedded miniredis, the way the functions do under `make run`.

// embeddedRedis starts the embedded Redis with its sessions in dir and returns a client built the
// way the functions build theirs, and the services to stop.
func embeddedRedis(t *testing.T, dir string, embeddedDB, freshDB bool) (redis.UniversalClient, *services) {
	t.Helper()
	s := &services{}
	host := map[string]string{}
	if err := s.startRedis(host, serviceOptions{DataDir: dir, Log: io.Discard}, embeddedDB, freshDB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if !strings.HasPrefix(host["REDIS_URL"], "redis://127.0.0.1:") || host["REDIS_CLUSTER"] != "false" {
		t.Fatalf("host = %v, want a loopback REDIS_URL and REDIS_CLUSTER=false", host)
	}
	rdb, err := cache.NewClient(cache.ClientOptions{URL: host["REDIS_URL"], ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb, s
}

func TestEmbeddedRedisRunsTheRateLimiter(t *testing.T) {
	rdb, _ := embeddedRedis(t, t.TempDir(), false, false)
	// The GCRA script reads TIME inside the script.
	l, err := ratelimit.New(rdb, 2, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 2 {
		r, err := l.Allow(ctx, "user-1")
		if err != nil || !r.Allowed {
			t.Fatalf("request %d: %+v, %v; want allowed", i+1, r, err)
		}
	}
	r, err := l.Allow(ctx, "user-1")
	if err != nil || r.Allowed || r.RetryAfter <= 0 || r.RetryAfter > 30*time.Second {
		t.Fatalf("third request: %+v, %v; want refused with a Retry-After of up to 30 s", r, err)
	}
	if l.FailOpens() != 0 {
		t.Fatalf("%d fail-opens: the script failed on miniredis", l.FailOpens())
	}
}

func TestEmbeddedRedisRunsSessions(t *testing.T) {
	rdb, _ := embeddedRedis(t, t.TempDir(), false, false)
	ctx := context.Background()
	s := auth.NewSessions(rdb, time.Hour)
	uid := uuid.New()
	sid, refresh, err := s.Create(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	gotUID, gotSID, next, err := s.Rotate(ctx, refresh)
	if err != nil || gotUID != uid || gotSID != sid {
		t.Fatalf("Rotate = %v %v, %v; want %v %v", gotUID, gotSID, err, uid, sid)
	}
	// Replaying the spent token revokes the session: the script's second branch.
	if _, _, _, err := s.Rotate(ctx, refresh); !errors.Is(err, auth.ErrRefreshReused) {
		t.Fatalf("replayed refresh: %v, want ErrRefreshReused", err)
	}
	if _, _, _, err := s.Rotate(ctx, next); err == nil {
		t.Fatal("the session survived a replayed refresh token")
	}
	if err := s.Check(ctx, sid); !errors.Is(err, auth.ErrSessionEnded) {
		t.Fatalf("Check after revocation: %v, want ErrSessionEnded", err)
	}
}

func TestEmbeddedRedisRunsIdempotency(t *testing.T) {
	rdb, _ := embeddedRedis(t, t.TempDir(), false, false)
	idem := idempotency.New(rdb)
	calls := 0
	h := idem.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"n":1}`)
	}))
	for i := range 2 {
		rec := serve(h, "POST", "/projects", `{"name":"p"}`, map[string]string{"Idempotency-Key": "k1"})
		if rec.Code != 201 || rec.Body.String() != `{"n":1}` {
			t.Fatalf("request %d: %d %s", i+1, rec.Code, rec.Body)
		}
		if i == 1 && rec.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("second request not replayed: %v", rec.Header())
		}
	}
	if calls != 1 {
		t.Fatalf("handler ran %d times, want 1", calls)
	}
	if rec := serve(h, "POST", "/projects", `{"name":"other"}`, map[string]string{"Idempotency-Key": "k1"}); rec.Code != 422 {
		t.Fatalf("same key, other body: %d, want 422", rec.Code)
	}
}

func TestEmbeddedRedisRunsTheCache(t *testing.T) {
	rdb, _ := embeddedRedis(t, t.TempDir(), false, false)
	ctx := context.Background()
	c := cache.New(rdb, cache.Options{})
	loads := 0
	load := func(context.Context) (string, error) { loads++; return "v", nil }
	// The fill goes through the lease and the fill script; the second Get must be a hit.
	for range 2 {
		if v, err := cache.Get(ctx, c, "project:1", time.Minute, load); err != nil || v != "v" {
			t.Fatalf("Get = %q, %v", v, err)
		}
	}
	if loads != 1 {
		t.Fatalf("loaded %d times, want 1 (a cache hit the second time)", loads)
	}
	// Generations: ListKey initialises one by script, Bump moves it on by script.
	before := c.ListKey(ctx, "org:1", "projects")
	if err := c.Bump(ctx, "org:1"); err != nil {
		t.Fatal(err)
	}
	if after := c.ListKey(ctx, "org:1", "projects"); before == "" || after == before {
		t.Fatalf("list keys %q then %q: want a new generation after Bump", before, after)
	}
	if st := c.Stats(); st.Errors != 0 {
		t.Fatalf("cache stats %+v: a script failed on miniredis", st)
	}
}

func TestEmbeddedRedisExpiresKeysOnTheClock(t *testing.T) {
	rdb, _ := embeddedRedis(t, t.TempDir(), false, false)
	ctx := context.Background()
	// Plain miniredis never expires a key by itself; cache entries, fill locks and idempotency
	// records would then live forever.
	if err := rdb.Set(ctx, "k", "v", 100*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := rdb.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after the TTL: %v, want redis.Nil", err)
	}
}

func TestEmbeddedRedisKeepsSessionsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	rdb, svc := embeddedRedis(t, dir, true, false)
	sessions := auth.NewSessions(rdb, time.Hour)
	kept, refresh, err := sessions.Create(ctx, uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	// A rotation leaves a :dead sorted set, which must come back too for reuse detection.
	if _, _, refresh, err = sessions.Rotate(ctx, refresh); err != nil {
		t.Fatal(err)
	}
	ended, _, err := sessions.Create(ctx, uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := sessions.Revoke(ctx, ended); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "cache:x", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	svc.Stop()

	t.Run("Restored", func(t *testing.T) {
		rdb, _ := embeddedRedis(t, dir, true, false)
		sessions := auth.NewSessions(rdb, time.Hour)
		if err := sessions.Check(ctx, kept); err != nil {
			t.Fatalf("kept session: %v", err)
		}
		if err := sessions.Check(ctx, ended); !errors.Is(err, auth.ErrSessionEnded) {
			t.Fatalf("revoked session: %v, want ErrSessionEnded", err)
		}
		if ttl := rdb.PTTL(ctx, "sess:{"+kept.String()+"}").Val(); ttl <= 59*time.Minute || ttl > time.Hour {
			t.Fatalf("restored TTL %v, want just under 1h", ttl)
		}
		if n := rdb.Exists(ctx, "cache:x").Val(); n != 0 {
			t.Fatal("a cache key was kept: only sessions should be")
		}
		if _, _, _, err := sessions.Rotate(ctx, refresh); err != nil {
			t.Fatalf("refresh after restart: %v", err)
		}
	})
	t.Run("DroppedWithAFreshDatabase", func(t *testing.T) {
		rdb, svc := embeddedRedis(t, dir, true, true)
		if err := auth.NewSessions(rdb, time.Hour).Check(ctx, kept); !errors.Is(err, auth.ErrSessionEnded) {
			t.Fatalf("session after a new cluster: %v, want ErrSessionEnded", err)
		}
		if _, err := os.Stat(filepath.Join(dir, sessionsFile)); !os.IsNotExist(err) {
			t.Fatalf("sessions file: %v, want removed", err)
		}
		// This run's sessions are kept for the next one, like any run's.
		sid, _, err := auth.NewSessions(rdb, time.Hour).Create(ctx, uuid.New())
		if err != nil {
			t.Fatal(err)
		}
		svc.Stop()
		rdb, _ = embeddedRedis(t, dir, true, false)
		if err := auth.NewSessions(rdb, time.Hour).Check(ctx, sid); err != nil {
			t.Fatalf("session of a first run, after a restart: %v", err)
		}
	})
}

func TestSigningSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt-secret")
	first, err := signingSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < 32 {
		t.Fatalf("secret of %d bytes, want at least 32", len(first))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	again, err := signingSecret(path)
	if err != nil || again != first {
		t.Fatalf("second run: %q, %v; want the same key", again, err)
	}
	if err := os.WriteFile(path, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := signingSecret(path); !errors.Is(err, errSecretTooShort) {
		t.Fatalf("short key: %v, want errSecretTooShort", err)
	}
}

// serve runs one request through h.
func serve(h http.Handler, method, path, body string, headers map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
