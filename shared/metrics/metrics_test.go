package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// TestEMFLine checks the line against the Embedded Metric Format's rules: every metric a
// directive names is a top-level member with a number (or array of numbers) value, and every
// dimension is a top-level string member.
func TestEMFLine(t *testing.T) {
	ctx, rec := WithRecord(context.Background())
	CacheHit(ctx)
	CacheHit(ctx)
	CacheMiss(ctx)
	Query(ctx, "primary", 1500*time.Microsecond, false)
	Query(ctx, "replica", 250*time.Microsecond, true)
	RedisCall(ctx)
	DatabaseCall(ctx)
	DatabaseCall(ctx)
	DatabaseCall(ctx)
	var buf bytes.Buffer
	e := NewEmitter(&buf, "ScaleAPI", "projects")
	err := e.Emit(Line{Time: time.Unix(1700000000, 0), RequestID: "r1", Method: "GET", Route: "GET /projects/{id}",
		Status: 200, Duration: 2 * time.Millisecond, ColdStart: true, Record: rec.Snapshot()})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	aws := m["_aws"].(map[string]any)
	if aws["Timestamp"].(float64) != 1700000000000 {
		t.Fatalf("timestamp %v", aws["Timestamp"])
	}
	names := map[string]bool{}
	for _, d := range aws["CloudWatchMetrics"].([]any) {
		dir := d.(map[string]any)
		if dir["Namespace"] != "ScaleAPI" {
			t.Fatalf("namespace %v", dir["Namespace"])
		}
		for _, set := range dir["Dimensions"].([]any) {
			for _, dim := range set.([]any) {
				if _, ok := m[dim.(string)].(string); !ok {
					t.Errorf("dimension %v is not a top-level string", dim)
				}
			}
		}
		for _, md := range dir["Metrics"].([]any) {
			name := md.(map[string]any)["Name"].(string)
			names[name] = true
			switch v := m[name].(type) {
			case float64:
			case []any:
				if len(v) == 0 {
					t.Errorf("metric %s is an empty array", name)
				}
			default:
				t.Errorf("metric %s has value %v (%T)", name, m[name], m[name])
			}
		}
	}
	for _, want := range []string{"Duration", "Requests", "Errors", "CacheHits", "CacheMisses", "ColdStarts", "QueryTimePrimary", "QueryTimeReplica",
		"RedisCalls", "DatabaseCalls"} {
		if !names[want] {
			t.Errorf("metric %s missing", want)
		}
	}
	if m["CacheHits"] != 2.0 || m["CacheMisses"] != 1.0 || m["Queries"] != 2.0 || m["statusClass"] != "2xx" ||
		m["RedisCalls"] != 1.0 || m["DatabaseCalls"] != 3.0 ||
		m["route"] != "GET /projects/{id}" || m["QueryTimePrimary"].([]any)[0] != 1.5 {
		t.Fatalf("line %s", buf.String())
	}
}

func TestRecordIsPerRequestAndConcurrent(t *testing.T) {
	ctx, rec := WithRecord(context.Background())
	other, _ := WithRecord(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			CacheHit(ctx)
			Query(ctx, "primary", time.Millisecond, false)
			RedisCall(ctx)
			DatabaseCall(ctx)
			CacheMiss(other)
		}()
	}
	wg.Wait()
	CacheHit(context.Background()) // no record: ignored
	s := rec.Snapshot()
	if s.CacheHits != 50 || s.CacheMisses != 0 || s.QueryCount != 50 || len(s.Queries["primary"]) != 50 ||
		s.RedisCalls != 50 || s.DatabaseCalls != 50 {
		t.Fatalf("%+v", s)
	}
	for i := 0; i < 200; i++ {
		Query(ctx, "primary", time.Millisecond, false)
	}
	if s := rec.Snapshot(); s.QueryCount != 250 || len(s.Queries["primary"]) != maxQueriesPerLine {
		t.Fatalf("values per line must be capped at %d: %d", maxQueriesPerLine, len(s.Queries["primary"]))
	}
}
