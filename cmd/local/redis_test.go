package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/db"
	"scaleapi/shared/devservices/devtest"
)

func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

// embeddedRedis starts the embedded Redis in dir as startServices would, with databaseURL as the
// database it belongs with ("" for none), and returns a client built the way the functions build
// theirs and the services to stop.
func embeddedRedis(t *testing.T, dir, databaseURL string, embeddedDB, freshDB bool) (redis.UniversalClient, *services) {
	t.Helper()
	s := &services{}
	host := map[string]string{"DATABASE_URL": databaseURL}
	if err := s.startRedis(context.Background(), host, serviceOptions{DataDir: dir, Log: io.Discard}, embeddedDB, freshDB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if !strings.HasPrefix(host["REDIS_URL"], "redis://127.0.0.1:") || host["REDIS_CLUSTER"] != "false" {
		t.Fatalf("host = %v, want a loopback REDIS_URL and REDIS_CLUSTER=false", host)
	}
	if !strings.HasPrefix(s.Redis, "embedded redis-server redis://127.0.0.1:") {
		t.Errorf("banner line %q", s.Redis)
	}
	rdb, err := cache.NewClient(cache.ClientOptions{URL: host["REDIS_URL"], ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb, s
}

func TestEmbeddedRedis(t *testing.T) {
	ctx := context.Background()
	database := devtest.NewDatabase(t)
	epochs := func() int64 {
		pool, err := db.Open(ctx, db.Options{URL: database.PrimaryURL})
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		e, err := db.CacheEpochs{Pool: pool}.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}

	t.Run("KeptWithItsDatabase", func(t *testing.T) {
		dir := reachableTempDir(t)
		// What an earlier version left: removed, not read.
		if err := os.WriteFile(filepath.Join(dir, legacySessionsFile), []byte("[]"), 0o600); err != nil {
			t.Fatal(err)
		}
		rdb, svc := embeddedRedis(t, dir, database.PrimaryURL, true, false)
		if _, err := os.Stat(filepath.Join(dir, legacySessionsFile)); !os.IsNotExist(err) {
			t.Errorf("legacy sessions file: %v, want removed", err)
		}
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
		svc.Stop()

		before := epochs()
		rdb, svc = embeddedRedis(t, dir, database.PrimaryURL, true, false)
		if !strings.Contains(svc.Redis, "keys restored, cache epoch advanced") {
			t.Errorf("banner line %q", svc.Redis)
		}
		if after := epochs(); after <= before {
			t.Errorf("cache epoch %d after a restart, was %d: entries of the last run stay readable", after, before)
		}
		sessions = auth.NewSessions(rdb, time.Hour)
		if err := sessions.Check(ctx, kept); err != nil {
			t.Fatalf("kept session: %v", err)
		}
		if err := sessions.Check(ctx, ended); !errors.Is(err, auth.ErrSessionEnded) {
			t.Fatalf("revoked session: %v, want ErrSessionEnded", err)
		}
		if ttl := rdb.PTTL(ctx, "sess:{"+kept.String()+"}").Val(); ttl <= 59*time.Minute || ttl > time.Hour {
			t.Fatalf("restored TTL %v, want just under 1h", ttl)
		}
		if _, _, _, err := sessions.Rotate(ctx, refresh); err != nil {
			t.Fatalf("refresh after restart: %v", err)
		}
	})

	for _, tc := range []struct {
		name                string
		embeddedDB, freshDB bool
	}{
		{"EmptiedForAFreshDatabase", true, true},
		{"EmptiedForAnExternalDatabase", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := reachableTempDir(t)
			rdb, svc := embeddedRedis(t, dir, database.PrimaryURL, true, false)
			sid, _, err := auth.NewSessions(rdb, time.Hour).Create(ctx, uuid.New())
			if err != nil {
				t.Fatal(err)
			}
			svc.Stop()
			rdb, svc = embeddedRedis(t, dir, database.PrimaryURL, tc.embeddedDB, tc.freshDB)
			if err := auth.NewSessions(rdb, time.Hour).Check(ctx, sid); !errors.Is(err, auth.ErrSessionEnded) {
				t.Fatalf("session of the other database: %v, want ErrSessionEnded", err)
			}
			if n := rdb.DBSize(ctx).Val(); n != 0 {
				t.Errorf("%d keys kept, want none", n)
			}
			if !strings.Contains(svc.Redis, "emptied") {
				t.Errorf("banner line %q", svc.Redis)
			}
		})
	}
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
