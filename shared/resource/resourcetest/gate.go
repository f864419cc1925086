package resourcetest

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"scaleapi/shared/resource"
)

// Gate is a resource.DB that pauses one statement, the next whose SQL contains Match after
// Arm: before it runs (a write in flight) or, with After, once its row has been read (a reader
// that loaded a row and is about to cache it). Entered receives when it pauses; closing
// Release lets it go on.
type Gate struct {
	resource.DB
	Match   string
	After   bool
	Entered chan struct{}
	Release chan struct{}
	armed   atomic.Bool
}

// NewGate returns a Gate over nothing yet: WrapDB(g.Wrap) sets its DB.
func NewGate(match string, after bool) *Gate {
	return &Gate{Match: match, After: after, Entered: make(chan struct{}), Release: make(chan struct{})}
}

// Wrap is the WrapDB decorator.
func (g *Gate) Wrap(d resource.DB) resource.DB { g.DB = d; return g }

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
func (g *Gate) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if g.take(sql) {
		g.pause()
	}
	return g.DB.Query(ctx, sql, args...)
}

// QueryRow implements resource.DB.
func (g *Gate) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if !g.take(sql) {
		return g.DB.QueryRow(ctx, sql, args...)
	}
	if !g.After {
		g.pause()
		return g.DB.QueryRow(ctx, sql, args...)
	}
	return pausedRow{g.DB.QueryRow(ctx, sql, args...), g}
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
