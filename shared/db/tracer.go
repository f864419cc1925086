package db

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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

// TraceBatchStart implements pgx.BatchTracer by passing the batch on to the next tracer, when it
// traces batches. pgx reports a batch's statements to the BatchTracer only, never to
// TraceQueryStart and TraceQueryEnd, so the running totals above do not include them.
func (t *Tracer) TraceBatchStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	if bt, ok := t.next.(pgx.BatchTracer); ok {
		return bt.TraceBatchStart(ctx, conn, data)
	}
	return ctx
}

// TraceBatchQuery implements pgx.BatchTracer.
func (t *Tracer) TraceBatchQuery(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchQueryData) {
	if bt, ok := t.next.(pgx.BatchTracer); ok {
		bt.TraceBatchQuery(ctx, conn, data)
	}
}

// TraceBatchEnd implements pgx.BatchTracer.
func (t *Tracer) TraceBatchEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchEndData) {
	if bt, ok := t.next.(pgx.BatchTracer); ok {
		bt.TraceBatchEnd(ctx, conn, data)
	}
}

// TraceCopyFromStart implements pgx.CopyFromTracer by passing the COPY on to the next tracer,
// when it traces them.
func (t *Tracer) TraceCopyFromStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	if ct, ok := t.next.(pgx.CopyFromTracer); ok {
		return ct.TraceCopyFromStart(ctx, conn, data)
	}
	return ctx
}

// TraceCopyFromEnd implements pgx.CopyFromTracer.
func (t *Tracer) TraceCopyFromEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceCopyFromEndData) {
	if ct, ok := t.next.(pgx.CopyFromTracer); ok {
		ct.TraceCopyFromEnd(ctx, conn, data)
	}
}

// PingTracer is implemented by an Options.Tracer that wants to know of the liveness pings the
// pool sends. pgxpool pings a connection that has been idle for more than pingAfterIdle before
// handing it out, a round trip that neither pgx.QueryTracer nor any other pgx tracer reports.
// TracePing is called with the context of the Acquire (the request's), just before the ping.
type PingTracer interface {
	TracePing(ctx context.Context)
}

// pingAfterIdle is pgxpool's own rule for when to ping (its default ShouldPing), restated here
// because setting a ShouldPing to observe pings replaces it.
const pingAfterIdle = time.Second

// shouldPing is pgxpool's default ShouldPing that also tells pt of each ping.
func shouldPing(pt PingTracer) func(context.Context, pgxpool.ShouldPingParams) bool {
	return func(ctx context.Context, p pgxpool.ShouldPingParams) bool {
		if p.IdleDuration <= pingAfterIdle {
			return false
		}
		pt.TracePing(ctx)
		return true
	}
}

var (
	_ pgx.QueryTracer    = (*Tracer)(nil)
	_ pgx.BatchTracer    = (*Tracer)(nil)
	_ pgx.CopyFromTracer = (*Tracer)(nil)
)
