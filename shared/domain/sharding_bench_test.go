package domain_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rt "scaleapi/shared/resource/resourcetest"
)

// BenchmarkCreateSharded is POST /projects from 32 clients at once into twelve organizations of
// one user, on one shard and on three (each a PostgreSQL primary behind its own PgBouncer, all on
// this machine's cores): creates/s over all shards, and each shard's share of the writes.
func BenchmarkCreateSharded(b *testing.B) {
	for _, shards := range []int{1, 3} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			app := rt.NewAppOn(b, rt.NewSharded(b, shards))
			alice := app.User(b, "Alice")
			var bodies []string
			for i := range 12 {
				org := app.Org(b, alice)
				bodies = append(bodies, fmt.Sprintf(`{"organizationId":%q,"name":"p%d"}`, org, i))
			}
			var n atomic.Int64
			b.SetParallelism(16)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					r := httptest.NewRequest("POST", "/projects", strings.NewReader(bodies[i%int64(len(bodies))]))
					r.Header.Set("Authorization", "Bearer "+alice.Token)
					r.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					app.Handler.ServeHTTP(w, r)
					if w.Code != http.StatusCreated {
						b.Errorf("status %d: %s", w.Code, w.Body)
						return
					}
				}
			})
			elapsed := time.Since(start).Seconds()
			b.ReportMetric(float64(n.Load())/elapsed, "creates/s")
			for i, sh := range app.Shards.Shards() {
				conn, err := sh.Primary(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				var rows int64
				if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM projects").Scan(&rows); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(rows)/elapsed, fmt.Sprintf("shard%d-writes/s", i+1))
			}
		})
	}
}
