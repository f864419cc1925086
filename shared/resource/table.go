package resource

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/db"
	"scaleapi/shared/query"
)

// Table is a resource's table, answering the reads that every resource's table answers the same
// way because every one has id, organization_id and deleted_at columns: it implements Reads
// (Get, View, the tenant-scoped List) and the owner lookup. A store embeds it and adds its
// writes, whose SQL is the store's own; BulkInsert and Explain are what those writes share.
//
// Its statements are built once, in NewTable, from the table's name, alias and columns, which
// are written in the store's code (the identifiers are checked here), never a client's input;
// every value is bound.
type Table[T Entity] struct {
	conn     DB
	alias    string
	noun     string
	scan     func(pgx.Row) (T, error)
	notFound error
	get      string // the statement of Get
	scope    string // the tenant scope of List
	one      string // the scope of View
	owner    string // the statement of Owner
	version  string // the live row's version, for Explain
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// NewTable returns the Table name, aliased alias in list statements, whose rows are a noun
// ("project") read by scan from columns (a select list) and whose miss is notFound. It panics
// on a name or alias that is not a plain identifier: tables are declared at start, and a bad one
// is a programming error.
func NewTable[T Entity](conn DB, name, alias, noun, columns string, scan func(pgx.Row) (T, error), notFound error) Table[T] {
	if !identRE.MatchString(name) || !identRE.MatchString(alias) {
		panic(fmt.Sprintf("resource: bad table %q or alias %q", name, alias))
	}
	return Table[T]{
		conn: conn, alias: alias, noun: noun, scan: scan, notFound: notFound,
		get: "SELECT " + columns + " FROM " + name + " WHERE id = $1 AND deleted_at IS NULL",
		// The tenant scope: the caller's organizations, live rows. query.Build AND-s it outside
		// the client's filter, so no filter, or= or s= can reach past it.
		scope:   alias + ".organization_id = ANY($1::uuid[]) AND " + alias + ".deleted_at IS NULL",
		one:     alias + ".id = $1 AND " + alias + ".deleted_at IS NULL",
		owner:   "SELECT organization_id FROM " + name + " WHERE id = $1",
		version: "SELECT version FROM " + name + " WHERE id = $1 AND deleted_at IS NULL",
	}
}

// Get implements Reads: one primary-key lookup.
func (t Table[T]) Get(ctx context.Context, id uuid.UUID) (T, error) {
	v, err := t.scan(t.conn.QueryRow(ctx, t.get, id))
	if err != nil {
		return v, fmt.Errorf("get %s: %w", t.noun, t.NotFound(err))
	}
	return v, nil
}

// List implements Reads: the page q selects of the live rows of orgs.
func (t Table[T]) List(ctx context.Context, orgs []uuid.UUID, q *query.Query) (*query.Page, error) {
	return t.ListWhere(ctx, q, t.scope, orgs)
}

// ListWhere runs q under another scope (trusted SQL over the table's alias binding args as $1…):
// a list narrower than the tenant's, whose tenancy the caller has checked.
func (t Table[T]) ListWhere(ctx context.Context, q *query.Query, scope string, args ...any) (*query.Page, error) {
	return listPage(ctx, t.conn, q, q.Build(query.Scope{Alias: t.alias, Where: scope, Args: args}), "list "+t.noun+"s")
}

// View implements Reads: live row id as q renders it (fields=, join=), in one statement.
func (t Table[T]) View(ctx context.Context, id uuid.UUID, q *query.Query) (json.RawMessage, error) {
	b, err := viewOne(ctx, t.conn, q, q.Build(query.Scope{Alias: t.alias, Where: t.one, Args: []any{id}}), t.notFound)
	if err != nil {
		return nil, fmt.Errorf("view %s: %w", t.noun, err)
	}
	return b, nil
}

// Owner returns the organization of row id, live or deleted (what a recover checks), or the
// table's not-found error.
func (t Table[T]) Owner(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	var org uuid.UUID
	if err := t.conn.QueryRow(ctx, t.owner, id).Scan(&org); err != nil {
		return uuid.Nil, fmt.Errorf("%s owner: %w", t.noun, t.NotFound(err))
	}
	return org, nil
}

// NotFound translates a driver error, with pgx.ErrNoRows as the table's own not-found.
func (t Table[T]) NotFound(err error) error {
	if isNoRows(err) {
		return t.notFound
	}
	return db.Translate(err)
}

// Explain translates the error of a conditional write of row id (UPDATE … WHERE id = $1 AND
// the version satisfies cond AND the membership guard holds … RETURNING): pgx.ErrNoRows,
// nothing written, becomes a 412 when the live row's version fails cond and the table's
// not-found otherwise; any other error is translated. conn is the one the write ran on (a
// transaction, if it ran in one).
func (t Table[T]) Explain(ctx context.Context, conn db.DBTX, id uuid.UUID, cond Condition, err error) error {
	if isNoRows(err) {
		return missed(ctx, conn, t.version, id, cond, t.notFound)
	}
	return db.Translate(err)
}

// BulkInsert runs a bulk insert of items: sql with args, a statement that inserts every item or none
// and returns, for each row it inserted, the columns that read scans, the id first (rows come
// back in no particular order). stamp copies onto the item what the database set for it
// (timestamps, version, …), from the row read returned. Fewer rows than items means the
// statement's guard refused the batch, answered with refused; errors name the insert
// ("insert projects").
func (t Table[T]) BulkInsert(ctx context.Context, items []T, refused error, read func(pgx.Rows) (T, error), stamp func(item *T, row T), sql string, args ...any) error {
	what := "insert " + t.noun + "s"
	at := make(map[uuid.UUID]int, len(items))
	for i, it := range items {
		at[it.Meta().ID] = i
	}
	rows, err := t.conn.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, db.Translate(err))
	}
	defer rows.Close()
	inserted := 0
	for rows.Next() {
		row, err := read(rows)
		if err != nil {
			return fmt.Errorf("%s: %w", what, db.Translate(err))
		}
		stamp(&items[at[row.Meta().ID]], row)
		inserted++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, db.Translate(err))
	}
	if inserted != len(items) {
		return fmt.Errorf("%s: %w", what, refused)
	}
	return nil
}
