package resource

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"scaleapi/shared/db"
	"scaleapi/shared/fault"
	"scaleapi/shared/query"
	"scaleapi/shared/shard"
)

// listPage runs a list statement built by query.Query.Build on conn: the page, and its count
// only when the page doesn't already prove the total (a short page). what names the list in
// errors ("list projects").
func listPage(ctx context.Context, conn db.DBTX, q *query.Query, st query.Statement, what string) (*query.Page, error) {
	return counted(ctx, conn, st, what, q.ReadPage)
}

// listPart runs one shard's part of a list over several (query.Query.BuildPart) on conn, with
// its count when its rows don't prove it.
func listPart(ctx context.Context, conn db.DBTX, q *query.Query, st query.Statement, what string) (*query.Part, error) {
	return counted(ctx, conn, st, what, q.ReadPart)
}

// counted runs st's list, reads it, and runs st's count when what was read needs it.
func counted[P interface {
	NeedsTotal() bool
	SetTotal(int64)
}](ctx context.Context, conn db.DBTX, st query.Statement, what string, read func(query.Rows) (P, error)) (P, error) {
	var zero P
	rows, err := conn.Query(ctx, st.List, st.ListArgs...)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", what, db.Translate(err))
	}
	p, err := read(rows)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", what, db.Translate(err))
	}
	if p.NeedsTotal() {
		var total int64
		if err := conn.QueryRow(ctx, st.Count, st.CountArgs...).Scan(&total); err != nil {
			return zero, fmt.Errorf("%s: count: %w", what, db.Translate(err))
		}
		p.SetTotal(total)
	}
	return p, nil
}

// viewOne runs a list statement whose scope selects one row (GET /{noun}s/{id} with fields= or
// join=) and returns that row as JSON, or notFound when there is none.
func viewOne(ctx context.Context, conn db.DBTX, q *query.Query, st query.Statement, notFound error) (json.RawMessage, error) {
	rows, err := conn.Query(ctx, st.List, st.ListArgs...)
	if err != nil {
		return nil, db.Translate(err)
	}
	page, err := q.ReadPage(rows)
	if err != nil {
		return nil, db.Translate(err)
	}
	if len(page.Data) == 0 {
		return nil, notFound
	}
	// json_build_object writes "key" : value; compacting makes the answer the bytes a cache
	// hit answers (and its digest ETag the same), and smaller.
	var b bytes.Buffer
	if err := json.Compact(&b, page.Data[0]); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DB is what a resource's store runs on: a shard's pool, which can also start transactions.
type DB = shard.DB

// ErrStale is the answer to a write whose If-Match names a version that is no longer current.
var ErrStale = fault.E(fault.Precondition, "If-Match does not match the current version; GET the resource again")
