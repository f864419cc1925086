package cache

import (
	"context"
	"testing"
	"time"
)

// BenchmarkGetHit measures the cache-hit path (one GET and a JSON decode) against real Redis,
// with the production client settings. Compare runs with benchstat.
func BenchmarkGetHit(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			client, err := NewClient(ClientOptions{URL: be.url(b)})
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			c := New(client, Options{Prefix: uniquePrefix(b)})
			want := project{ID: "0190f5c2-7a1b-7c3d-9e4f-5a6b7c8d9e0f", Name: "Apollo guidance computer", Status: "open",
				Tags: []string{"hardware", "software", "navigation"}}
			l := constLoader(want)
			waitFor(b, 5*time.Second, "a first fill", func() bool {
				Get(ctx, c, "project:bench", time.Hour, l.load)
				return client.Exists(ctx, c.vkey("project:bench")).Val() == 1
			})
			before := l.calls.Load()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Get(ctx, c, "project:bench", time.Hour, l.load); err != nil {
					b.Fatal(err)
				}
			}
			if misses := l.calls.Load() - before; misses > 0 {
				b.Logf("%d of the reads missed (Redis timeouts under load)", misses)
			}
		})
	}
}

// BenchmarkDecode measures the JSON part of a hit on its own, which is what a faster codec could
// save: compare it with BenchmarkGetHit, whose time is mostly the Redis round trip.
func BenchmarkDecode(b *testing.B) {
	data := []byte(`{"id":"0190f5c2-7a1b-7c3d-9e4f-5a6b7c8d9e0f","name":"Apollo guidance computer","status":"open","tags":["hardware","software","navigation"]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := decode[project](data); err != nil {
			b.Fatal(err)
		}
	}
}
