package health

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/api"
	"scaleapi/shared/db"
	"scaleapi/shared/devservices"
	"scaleapi/shared/devservices/devtest"
)

func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

func TestHealth(t *testing.T) {
	ctx := context.Background()
	d := devtest.NewDatabase(t)
	primary, err := db.Open(ctx, db.Options{URL: d.PoolerURL, Name: "primary"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(primary.Close)
	replica, err := db.Open(ctx, db.Options{URL: d.ReplicaURL, Name: "replica"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(replica.Close)
	// A Redis of this test's own, so that it can be stopped.
	own, err := devservices.StartRedis(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = own.Stop() })
	opt, err := redis.ParseURL(own.URL)
	if err != nil {
		t.Fatal(err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.MaxRetries = 100*time.Millisecond, 100*time.Millisecond, -1
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })

	checker := New(map[string]Check{
		"database": func(ctx context.Context) error { return primary.Ping(ctx) },
		"replica":  func(ctx context.Context) error { return replica.Ping(ctx) },
		"cache":    func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
	})
	r := api.NewRouter()
	Routes(r, checker)
	get := func(path string) (*httptest.ResponseRecorder, Answer) {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		var a Answer
		if path == "/health" {
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
				t.Fatalf("%s: %v", w.Body, err)
			}
		}
		return w, a
	}

	t.Run("AllUp", func(t *testing.T) {
		w, a := get("/health")
		if w.Code != http.StatusOK || a.Status != "ok" || len(a.Checks) != 3 ||
			a.Checks["database"] != "ok" || a.Checks["replica"] != "ok" || a.Checks["cache"] != "ok" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("RedisDownNamesCache", func(t *testing.T) {
		if err := own.Stop(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		w, a := get("/health")
		if w.Code != http.StatusServiceUnavailable || a.Checks["cache"] != "down" || a.Checks["database"] != "ok" || w.Header().Get("Retry-After") == "" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("health took %v with Redis down; checks must be bounded", el)
		}
		if body := w.Body.String(); strings.Contains(body, "127.0.0.1") || strings.Contains(body, "refused") {
			t.Fatalf("health leaks details: %s", body)
		}
	})
	t.Run("OpenAPIServed", func(t *testing.T) {
		w, _ := get("/openapi.json")
		var doc map[string]any
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || json.Unmarshal(w.Body.Bytes(), &doc) != nil || doc["openapi"] != "3.1.0" {
			t.Fatalf("%d %.200s", w.Code, w.Body)
		}
	})
}
