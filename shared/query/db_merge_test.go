package query_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/query"
)

// parts are three disjoint scopes that together hold the scope's rows, as three shards would
// each hold some organizations' rows.
var parts = func() []query.Scope {
	var out []query.Scope
	for k := range 3 {
		out = append(out, query.Scope{Alias: "i", Args: []any{1, k},
			Where: scopeWhere + " AND get_byte(uuid_send(i.id), 15) % 3 = $2"})
	}
	return out
}()

// listParts runs one page of q as a sharded store does: BuildPart on each part, Count where a
// part's rows can't tell its total, MergeStatement, Merge.
func listParts(t *testing.T, ctx context.Context, conn *pgx.Conn, q *query.Query) *query.Page {
	t.Helper()
	var ps []*query.Part
	for _, sc := range parts {
		st := q.BuildPart(sc)
		rows, err := conn.Query(ctx, st.List, st.ListArgs...)
		if err != nil {
			t.Fatalf("part: %v\n%s", err, st.List)
		}
		p, err := q.ReadPart(rows)
		if err != nil {
			t.Fatal(err)
		}
		if p.NeedsTotal() {
			var total int64
			if err := conn.QueryRow(ctx, st.Count, st.CountArgs...).Scan(&total); err != nil {
				t.Fatal(err)
			}
			p.SetTotal(total)
		}
		ps = append(ps, p)
	}
	var order []int
	if sql, args, ok := q.MergeStatement(ps); ok {
		rows, err := conn.Query(ctx, sql, args...)
		if err != nil {
			t.Fatalf("merge: %v\n%s", err, sql)
		}
		if order, err = pgx.CollectRows(rows, pgx.RowTo[int]); err != nil {
			t.Fatal(err)
		}
	}
	page, err := q.Merge(ps, order)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// samePage fails t unless the merged page is the single database's, byte for byte: items,
// cursor and the JSON of the whole page (total, page count).
func samePage(t *testing.T, what string, got, want *query.Page) {
	t.Helper()
	gj, err1 := got.MarshalJSON()
	wj, err2 := want.MarshalJSON()
	if err1 != nil || err2 != nil || !bytes.Equal(gj, wj) {
		t.Fatalf("%s: merged page differs (%v, %v)\n got %s\nwant %s", what, err1, err2, gj, wj)
	}
}

// TestMergeMatchesOneDatabase: every sort (collation, NULL placement, directions, relations),
// every page of offset and cursor pagination, and the totals, merged from three parts, are what
// one database holding all the rows answers.
func TestMergeMatchesOneDatabase(t *testing.T) {
	d := devtest.NewDatabase(t)
	ctx := context.Background()
	cs := conns(t, ctx, d)
	conn := cs["PoolerExec"]
	seed(t, ctx, cs["PrimaryExec"])

	var specs [][]string
	for _, c := range sortCases {
		specs = append(specs, c.params)
	}
	specs = append(specs, cursorSpecs...)
	for _, spec := range specs {
		for _, limit := range []string{"1", "7", "100"} {
			params := append(append([]string(nil), spec...), "limit", limit)
			// Offset pages, to one past the end.
			for n := 1; ; n++ {
				q := parse(t, qs(append(params, "page", strconv.Itoa(n))...))
				want := list(t, ctx, conn, q)
				samePage(t, "page "+strconv.Itoa(n)+" of "+qs(params...).Encode(), listParts(t, ctx, conn, q), want)
				if int64(n) > want.PageCount() {
					break
				}
			}
			if len(spec) > 0 && spec[0] == "order" {
				continue // PostgREST's dialect has no cursor
			}
			// The cursor walk: each merged page's cursor leads to the next merged page.
			cursor := ""
			for range 200 {
				q := parse(t, qs(append(params, "cursor", cursor)...))
				want := list(t, ctx, conn, q)
				got := listParts(t, ctx, conn, q)
				samePage(t, "cursor page of "+qs(params...).Encode(), got, want)
				if got.NextCursor == "" {
					break
				}
				cursor = got.NextCursor
			}
		}
	}
	// PostgREST's offset and limit=0 (a count).
	for _, v := range [][]string{{"offset", "5", "limit", "3"}, {"limit", "0"}, {"offset", "1000", "limit", "5"}} {
		q := parse(t, qs(v...), "X-Crud-Dialect", "postgrest", "Prefer", "count=exact")
		samePage(t, qs(v...).Encode(), listParts(t, ctx, conn, q), list(t, ctx, conn, q))
	}
}
