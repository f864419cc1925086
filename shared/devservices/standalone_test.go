package devservices

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// sharedTempDir is a directory the servers' user can enter when the tests run as root (t.TempDir
// is mode 0700 under a 0700 parent).
func sharedTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "devservices-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// gone waits until no process of p's group is left.
func gone(t *testing.T, p *proc) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := syscall.Kill(-p.pid(), 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (group %d) still running: %v", p.name, p.pid(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartRedis(t *testing.T) {
	ctx := context.Background()

	t.Run("StopMidTestCutsClientsOff", func(t *testing.T) {
		r, err := StartRedis(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Stop() })
		opt, err := redis.ParseURL(r.URL)
		if err != nil {
			t.Fatal(err)
		}
		opt.MaxRetries = -1
		c := redis.NewClient(opt)
		defer c.Close()
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := r.Stop(); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if err := c.Get(ctx, "k").Err(); err == nil {
			t.Fatal("GET succeeded after Stop")
		}
		gone(t, r.proc)
		if _, err := os.Stat(r.removeDir); !os.IsNotExist(err) {
			t.Errorf("temporary directory %s left behind: %v", r.removeDir, err)
		}
		if err := r.Stop(); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
	})

	t.Run("InAGivenDirectoryKeepsItsFiles", func(t *testing.T) {
		dir := sharedTempDir(t)
		r, err := StartRedis(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Stop(); err != nil {
			t.Fatal(err)
		}
		logs, _ := filepath.Glob(filepath.Join(dir, "redis-*", "redis.log"))
		if len(logs) != 1 {
			t.Fatalf("redis logs in %s: %v, want one", dir, logs)
		}
	})
}

func TestStartStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Start(ctx, Options{Redis: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	procs := s.procs()
	cancel()
	for _, p := range procs {
		gone(t, p)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(s.Dir); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists after the context ended", s.Dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartPostgresReusesItsDataDirectory(t *testing.T) {
	ctx := context.Background()
	dataDir := filepath.Join(sharedTempDir(t), "data")

	p, err := StartPostgres(ctx, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	c := connect(t, p.URL)
	if _, err := c.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	gone(t, p.srv.proc)

	p2, err := StartPostgres(ctx, dataDir)
	if err != nil {
		t.Fatalf("second start on the same directory: %v", err)
	}
	t.Cleanup(func() { p2.Stop() })
	var v int
	if err := connect(t, p2.URL).QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
		t.Fatalf("after restart: v = %d, %v; want 42", v, err)
	}
}

func TestStartPostgresRefusesAForeignDirectory(t *testing.T) {
	dataDir := filepath.Join(sharedTempDir(t), "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := StartPostgres(context.Background(), dataDir)
	if err == nil || !strings.Contains(err.Error(), "PG_VERSION") {
		t.Fatalf("StartPostgres on a non-empty non-PostgreSQL directory: %v", err)
	}
}

func TestMissingBinaryNamesWhatToInstall(t *testing.T) {
	_, err := findBinary("pgbouncer-that-does-not-exist", hintPgBouncer)
	if err == nil || !strings.Contains(err.Error(), "apt-get install pgbouncer") || !strings.Contains(err.Error(), "brew install pgbouncer") {
		t.Fatalf("error %v does not say what to install", err)
	}
}

func TestStartPersistentRedis(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(sharedTempDir(t), "redis")
	connect := func(t *testing.T, r *Redis) *redis.Client {
		t.Helper()
		opt, err := redis.ParseURL(r.URL)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		return c
	}
	start := func(t *testing.T) *Redis {
		t.Helper()
		r, err := StartPersistentRedis(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Stop() })
		return r
	}

	first := start(t)
	if err := connect(t, first).Set(ctx, "sess:{a}", "kept", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}

	t.Run("SecondServerOnTheDirectoryRefused", func(t *testing.T) {
		_, err := StartPersistentRedis(ctx, dir)
		if err == nil || !strings.Contains(err.Error(), "in use by redis-server") {
			t.Fatalf("second start: %v, want refused", err)
		}
	})

	t.Run("DataSurvivesACleanStop", func(t *testing.T) {
		if err := first.Stop(); err != nil {
			t.Fatal(err)
		}
		r := start(t)
		c := connect(t, r)
		if v := c.Get(ctx, "sess:{a}").Val(); v != "kept" {
			t.Fatalf("after restart: %q, want kept", v)
		}
		if ttl := c.PTTL(ctx, "sess:{a}").Val(); ttl <= 59*time.Minute {
			t.Errorf("TTL after restart %v, want kept", ttl)
		}
		if err := c.Set(ctx, "sess:{b}", "synced", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		// A crash: the kernel kills the server, as it does when `make run` is killed.
		time.Sleep(1500 * time.Millisecond) // past the once-a-second fsync
		r.proc.kill()

		t.Run("AndAKill", func(t *testing.T) {
			r := start(t)
			if v := connect(t, r).Get(ctx, "sess:{b}").Val(); v != "synced" {
				t.Fatalf("after a kill: %q, want the write of more than a second before", v)
			}
			if err := r.Stop(); err != nil {
				t.Fatal(err)
			}
			gone(t, r.proc)
		})
	})
}
