// Package metrics records what happens during one request and writes it out as one JSON line:
// the request's log line and, in the same object, its CloudWatch Embedded Metric Format (EMF)
// metadata, so CloudWatch Logs extracts the metrics without an API call or an agent. Locally,
// cmd/local reads the same lines from the functions' output to serve Prometheus text.
//
// Cache and database code report into the request's Record through the context (CacheHit,
// Query, ...), so a line carries the request's cache hits, misses and query times without any
// global state that could leak between invocations.
package metrics

import (
	"context"
	"sync"
	"time"
)

type recordKey struct{}

// Record accumulates one request's measurements. It is safe for concurrent use: a handler may
// fan out goroutines.
type Record struct {
	mu           sync.Mutex
	cacheHits    int
	cacheMisses  int
	cacheErrors  int
	queries      map[string][]float64 // pool name -> durations in ms
	queryErrors  int
	queriesTotal int
	redisCalls   int
	dbCalls      int
}

// WithRecord returns a context carrying a new Record.
func WithRecord(ctx context.Context) (context.Context, *Record) {
	r := &Record{}
	return context.WithValue(ctx, recordKey{}, r), r
}

// RecordFrom returns ctx's Record, if any.
func RecordFrom(ctx context.Context) (*Record, bool) {
	r, ok := ctx.Value(recordKey{}).(*Record)
	return r, ok
}

// CacheHit counts a cache hit against ctx's request.
func CacheHit(ctx context.Context) {
	if r, ok := RecordFrom(ctx); ok {
		r.mu.Lock()
		r.cacheHits++
		r.mu.Unlock()
	}
}

// CacheMiss counts a cache miss against ctx's request.
func CacheMiss(ctx context.Context) {
	if r, ok := RecordFrom(ctx); ok {
		r.mu.Lock()
		r.cacheMisses++
		r.mu.Unlock()
	}
}

// CacheError counts a failed cache call (Redis down or slow) against ctx's request.
func CacheError(ctx context.Context) {
	if r, ok := RecordFrom(ctx); ok {
		r.mu.Lock()
		r.cacheErrors++
		r.mu.Unlock()
	}
}

// maxQueriesPerLine bounds a line's per-query values; EMF takes at most 100 values per metric.
const maxQueriesPerLine = 100

// Query records one database query on pool against ctx's request.
func Query(ctx context.Context, pool string, d time.Duration, failed bool) {
	r, ok := RecordFrom(ctx)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.queries == nil {
		r.queries = make(map[string][]float64, 2)
	}
	r.queriesTotal++
	if len(r.queries[pool]) < maxQueriesPerLine {
		r.queries[pool] = append(r.queries[pool], ms(d))
	}
	if failed {
		r.queryErrors++
	}
}

// RedisCall counts one round trip to Redis against ctx's request: a single command, or a
// pipeline (or MULTI/EXEC block), which go-redis writes at once and whose replies it reads
// together, however many commands it holds. A script run that falls back from EVALSHA to EVAL
// is two. shared/platform calls it from a go-redis hook on every client it builds.
//
// The handshake of a new connection (AUTH, SELECT, HELLO) is not counted: go-redis runs it
// below the hooks, and a warm environment's connections are already open.
func RedisCall(ctx context.Context) {
	if r, ok := RecordFrom(ctx); ok {
		r.mu.Lock()
		r.redisCalls++
		r.mu.Unlock()
	}
}

// DatabaseCall counts one round trip to PostgreSQL against ctx's request: a statement
// (BEGIN and COMMIT included), a batch, a COPY, or the liveness ping pgxpool sends before it
// hands out a connection that has been idle (see shared/db). Query counts statements and their
// times; this counts what the request waited on the network for, which is not the same number
// once pings or batches are involved.
//
// Connecting (TCP, TLS, the startup and authentication exchange) is not counted: it happens
// once per connection, which a warm environment already holds.
func DatabaseCall(ctx context.Context) {
	if r, ok := RecordFrom(ctx); ok {
		r.mu.Lock()
		r.dbCalls++
		r.mu.Unlock()
	}
}

// Snapshot is a Record's content at one moment.
type Snapshot struct {
	CacheHits, CacheMisses, CacheErrors int
	Queries                             map[string][]float64
	QueryCount, QueryErrors             int
	// RedisCalls and DatabaseCalls are the request's round trips to Redis and PostgreSQL
	// (RedisCall, DatabaseCall).
	RedisCalls, DatabaseCalls int
}

// Snapshot copies the record.
func (r *Record) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{CacheHits: r.cacheHits, CacheMisses: r.cacheMisses, CacheErrors: r.cacheErrors,
		QueryCount: r.queriesTotal, QueryErrors: r.queryErrors,
		RedisCalls: r.redisCalls, DatabaseCalls: r.dbCalls}
	if len(r.queries) > 0 {
		s.Queries = make(map[string][]float64, len(r.queries))
		for k, v := range r.queries {
			s.Queries[k] = append([]float64(nil), v...)
		}
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
