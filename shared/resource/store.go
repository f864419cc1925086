package resource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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

// missed explains a conditional write that changed no row: a 412 when the live row exists and
// its version fails cond, else notFound (no such live row, or the write's membership guard
// refused it). versionSQL selects the live row's version by id ($1). It costs a query, but only
// on this failure path: the write itself stays one statement.
func missed(ctx context.Context, conn db.DBTX, versionSQL string, id uuid.UUID, cond Condition, notFound error) error {
	if !cond.Set() {
		return notFound
	}
	var version int
	if err := conn.QueryRow(ctx, versionSQL, id).Scan(&version); err != nil {
		if isNoRows(err) {
			return notFound
		}
		return db.Translate(err)
	}
	if !cond.Holds(version) {
		return ErrStale
	}
	return notFound
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
