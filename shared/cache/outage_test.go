package cache

import (
	"context"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// outageBound is what one cache operation may cost when Redis is gone: the production timeouts
// are 150 ms to dial and 50 ms to read, so this is generous for a loaded machine while still far
// below go-redis's defaults (5 s timeouts, retried).
const outageBound = 500 * time.Millisecond

// TestRedisStopped stops a Redis in the middle of a test: reads keep answering from the loader
// within the timeouts, invalidations report the failure, nothing panics.
func TestRedisStopped(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cooldown time.Duration
	}{
		{"WithCooldown", 0},
		{"WithoutCooldown", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r := startOwnRedis(t)
			// The production defaults, not the relaxed test timeouts.
			client, err := NewClient(ClientOptions{URL: r.URL})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			rec := &recorder{}
			c := New(client, Options{Prefix: uniquePrefix(t), Cooldown: tc.cooldown, Observer: rec})
			l := constLoader(project{ID: "p1", Name: "from the database"})
			waitFor(t, 5*time.Second, "a first fill", func() bool {
				Get(ctx, c, "project:p1", time.Minute, l.load)
				return client.Exists(ctx, c.vkey("project:p1")).Val() == 1
			})

			if err := r.Stop(); err != nil {
				t.Logf("stop: %v", err)
			}

			for i := range 5 {
				start := time.Now()
				got, err := Get(ctx, c, "project:p1", time.Minute, l.load)
				elapsed := time.Since(start)
				if err != nil || got.Name != "from the database" {
					t.Fatalf("read %d with Redis down: %+v, %v", i, got, err)
				}
				if elapsed > outageBound {
					t.Errorf("read %d with Redis down took %v, want < %v", i, elapsed, outageBound)
				}
			}
			start := time.Now()
			sc := []string{"org:1"}
			if got, err := GetList(ctx, c, ListKey(sc, "projects"), sc, time.Minute, l.load); err != nil || got.Name != "from the database" {
				t.Errorf("list with Redis down: %+v, %v", got, err)
			}
			if err := c.Delete(ctx, "project:p1"); err == nil {
				t.Error("Delete with Redis down returned nil; the caller must learn the invalidation was lost")
			}
			if err := c.Bump(ctx, "org:1"); err == nil {
				t.Error("Bump with Redis down returned nil")
			}
			if elapsed := time.Since(start); elapsed > 3*outageBound {
				t.Errorf("GetList+Delete+Bump with Redis down took %v", elapsed)
			}
			if s := c.Stats(); s.Errors == 0 {
				t.Errorf("stats %+v: want errors counted", s)
			}
			if !slices.Contains(rec.list(), "error:project") {
				t.Errorf("observer saw %v, want an error for project", rec.list())
			}
		})
	}
}

// blackhole is a TCP server that accepts connections and never answers: the worst kind of dead
// Redis (a hung node, a half-open connection), where only timeouts help.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, conn) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func TestRedisBlackholed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cluster  bool
		cooldown time.Duration
	}{
		{"Standalone", false, 0},
		{"StandaloneWithoutCooldown", false, -1},
		{"Cluster", true, 0},
		{"ClusterWithoutCooldown", true, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			client, err := NewClient(ClientOptions{URL: "redis://" + blackhole(t), Cluster: tc.cluster})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			c := New(client, Options{Prefix: uniquePrefix(t), Cooldown: tc.cooldown})
			l := constLoader("from the database")
			var total time.Duration
			for i := range 4 {
				start := time.Now()
				got, err := Get(ctx, c, "project:bh", time.Minute, l.load)
				elapsed := time.Since(start)
				total += elapsed
				if err != nil || got != "from the database" {
					t.Fatalf("read %d: %q, %v", i, got, err)
				}
				if elapsed > outageBound {
					t.Errorf("read %d took %v, want < %v", i, elapsed, outageBound)
				}
			}
			start := time.Now()
			if err := c.Delete(ctx, "project:bh"); err == nil {
				t.Error("Delete against a blackhole returned nil")
			}
			if elapsed := time.Since(start); elapsed > outageBound {
				t.Errorf("Delete took %v, want < %v", elapsed, outageBound)
			}
			if s := c.Stats(); s.Errors == 0 || s.Hits != 0 {
				t.Errorf("stats %+v", s)
			}
			t.Logf("4 reads cost %v in all", total)
		})
	}
}

// TestContextDeadline checks that the caller's deadline bounds a Redis call even when it is
// shorter than the client's timeouts (the Lambda deadline reaching Redis).
func TestContextDeadline(t *testing.T) {
	t.Parallel()
	client, err := NewClient(ClientOptions{URL: "redis://" + blackhole(t), ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c := New(client, Options{Prefix: uniquePrefix(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	got, err := Get(ctx, c, "project:dl", time.Minute, func(context.Context) (string, error) { return "db", nil })
	// The client's timeouts are 5 s here: only the context can have ended the wait.
	if elapsed := time.Since(start); elapsed > outageBound {
		t.Errorf("read took %v with a 100ms deadline", elapsed)
	}
	if got != "db" || err != nil {
		t.Errorf("got %q, %v; want the loader's answer", got, err)
	}
}
