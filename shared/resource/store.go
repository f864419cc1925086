package resource

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"scaleapi/shared/db"
	"scaleapi/shared/fault"
	"scaleapi/shared/query"
)

// listPage runs a list statement built by query.Query.Build on conn: the page, and its count
// only when the page doesn't already prove the total (a short page). what names the list in
// errors ("list projects").
func listPage(ctx context.Context, conn db.DBTX, q *query.Query, st query.Statement, what string) (*query.Page, error) {
	rows, err := conn.Query(ctx, st.List, st.ListArgs...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, db.Translate(err))
	}
	page, err := q.ReadPage(rows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, db.Translate(err))
	}
	if page.NeedsTotal() {
		var total int64
		if err := conn.QueryRow(ctx, st.Count, st.CountArgs...).Scan(&total); err != nil {
			return nil, fmt.Errorf("%s: count: %w", what, db.Translate(err))
		}
		page.SetTotal(total)
	}
	return page, nil
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

// DB is what a resource's store runs on: a pool, which can also start transactions. *db.Pool
// implements it.
type DB interface {
	db.DBTX
	db.TxBeginner
}

// ErrStale is the answer to a write whose If-Match names a version that is no longer current.
var ErrStale = fault.E(fault.Precondition, "If-Match does not match the current version; GET the resource again")
