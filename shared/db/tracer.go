package db

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// QueryObserver receives the duration and outcome of every query a pool runs. The metrics package
// implements it to emit "database query duration by pool"; it is called on the query's goroutine,
// so it must be cheap and must not block.
type QueryObserver interface {
	ObserveQuery(pool string, d time.Duration, err error)
}

// QueryStats are a pool's running totals since it was opened. Queries include BEGIN, COMMIT and
// ROLLBACK, which are round trips like any other.
type QueryStats struct {
	Count  int64         // queries finished
	Errors int64         // of which failed
	Total  time.Duration // summed duration
}

// Mean returns the average query duration, or 0 before the first query.
func (s QueryStats) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.Total / time.Duration(s.Count)
}

// Tracer is a pgx.QueryTracer that times every query, keeps running totals and reports each
// query to an optional QueryObserver and an optional next tracer (e.g. a query logger).
type Tracer struct {
	pool     string
	observer QueryObserver
	next     pgx.QueryTracer

	count  atomic.Int64
	errors atomic.Int64
	total  atomic.Int64 // nanoseconds
}

// NewTracer returns a Tracer for the pool named pool. observer and next may be nil.
func NewTracer(pool string, observer QueryObserver, next pgx.QueryTracer) *Tracer {
	return &Tracer{pool: pool, observer: observer, next: next}
}

// queryStartKey is the context key under which TraceQueryStart leaves the start time for
// TraceQueryEnd: pgx passes the context returned by the one to the other.
type queryStartKey struct{}

// TraceQueryStart implements pgx.QueryTracer.
func (t *Tracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if t.next != nil {
		ctx = t.next.TraceQueryStart(ctx, conn, data)
	}
	return context.WithValue(ctx, queryStartKey{}, time.Now())
}

// TraceQueryEnd implements pgx.QueryTracer.
func (t *Tracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	if start, ok := ctx.Value(queryStartKey{}).(time.Time); ok {
		d := time.Since(start)
		t.count.Add(1)
		t.total.Add(int64(d))
		if data.Err != nil {
			t.errors.Add(1)
		}
		if t.observer != nil {
			t.observer.ObserveQuery(t.pool, d, data.Err)
		}
	}
	if t.next != nil {
		t.next.TraceQueryEnd(ctx, conn, data)
	}
}

// Stats returns the running totals.
func (t *Tracer) Stats() QueryStats {
	return QueryStats{
		Count:  t.count.Load(),
		Errors: t.errors.Load(),
		Total:  time.Duration(t.total.Load()),
	}
}

var _ pgx.QueryTracer = (*Tracer)(nil)
