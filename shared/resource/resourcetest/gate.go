package resourcetest

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"scaleapi/shared/resource"
)

// Gate pauses one statement, the next whose SQL contains Match after Arm, sent to any of the
// databases it wraps (Wrap): before it runs (a write in flight) or, with After, once its row has
// been read (a reader that loaded a row and is about to cache it). Entered receives when it
// pauses; closing Release lets it go on.
type Gate struct {
	Match   string
	After   bool
	Entered chan struct{}
	Release chan struct{}
	armed   atomic.Bool
}

// NewGate returns a Gate over nothing yet: WrapDB(g.Wrap) puts it in front of every shard.
func NewGate(match string, after bool) *Gate {
	return &Gate{Match: match, After: after, Entered: make(chan struct{}), Release: make(chan struct{})}
}

// Wrap is the WrapDB decorator: d behind the gate.
func (g *Gate) Wrap(d resource.DB) resource.DB { return gated{DB: d, g: g} }

// gated is one database behind a Gate.
type gated struct {
	resource.DB
	g *Gate
}

// Arm makes the next matching statement pause.
func (g *Gate) Arm() { g.armed.Store(true) }

func (g *Gate) take(sql string) bool {
	return strings.Contains(sql, g.Match) && g.armed.CompareAndSwap(true, false)
}

func (g *Gate) pause() {
	g.Entered <- struct{}{}
	<-g.Release
}

// Query implements resource.DB.
func (d gated) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if d.g.take(sql) {
		d.g.pause()
	}
	return d.DB.Query(ctx, sql, args...)
}

// QueryRow implements resource.DB.
func (d gated) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if !d.g.take(sql) {
		return d.DB.QueryRow(ctx, sql, args...)
	}
	if !d.g.After {
		d.g.pause()
		return d.DB.QueryRow(ctx, sql, args...)
	}
	return pausedRow{d.DB.QueryRow(ctx, sql, args...), d.g}
}

type pausedRow struct {
	pgx.Row
	g *Gate
}

func (r pausedRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	r.g.pause()
	return err
}
