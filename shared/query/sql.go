package query

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Where returns q's filter as a boolean SQL expression over the columns of alias, appending its
// values to args (so its placeholders continue after the store's own). It is "TRUE" when the
// query has no filter, so that it can always be spliced as "... AND " + q.Where(...). Like the
// other methods that take an alias, it panics when alias is not a plain identifier: that is a
// programming error in the store, never a client's doing.
func (q *Query) Where(alias string, args *Args) string {
	mustIdent("alias", alias)
	if q.where == nil {
		return "TRUE"
	}
	var b strings.Builder
	q.where.sql(&b, alias, args)
	return b.String()
}

// OrderBy returns the ORDER BY list (without the key words): the client's sort terms with
// NULLS LAST for ASC and NULLS FIRST for DESC (PostgreSQL's defaults, spelled out because the
// API promises them), then id.
func (q *Query) OrderBy(alias string) string {
	mustIdent("alias", alias)
	var b strings.Builder
	for i, k := range q.sort {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(alias + "." + k.field.Column)
		if k.desc {
			b.WriteString(" DESC NULLS FIRST")
		} else {
			b.WriteString(" ASC NULLS LAST")
		}
	}
	return b.String()
}

// Item returns the SQL expression that renders one row of alias as the JSON object the API
// answers: the selected fields under their API names, and each joined relation under its name,
// loaded by a correlated subquery in the same statement (a JSON array for a one-to-many
// relation, ordered by id and [] when empty; an object or null for a many-to-one relation).
// The subqueries run once per returned row, on the relation's foreign-key index, inside the one
// statement: there is no N+1 round trip.
func (q *Query) Item(alias string) string {
	mustIdent("alias", alias)
	var b strings.Builder
	q.writeItem(&b, alias)
	return b.String()
}

func (q *Query) writeItem(b *strings.Builder, alias string) {
	b.WriteString("json_build_object(")
	writePairs(b, alias, q.fields)
	for i, j := range q.joins {
		r := j.rel
		ra := alias + "_j" + strconv.Itoa(i)
		b.WriteString(", '")
		b.WriteString(r.Name)
		b.WriteString("', (SELECT ")
		if r.Many {
			b.WriteString("coalesce(json_agg(json_build_object(")
			writePairs(b, ra, j.fields)
			b.WriteString(") ORDER BY ")
			b.WriteString(ra)
			b.WriteByte('.')
			b.WriteString(r.Schema.id.Column)
			b.WriteString("), '[]'::json)")
		} else {
			b.WriteString("json_build_object(")
			writePairs(b, ra, j.fields)
			b.WriteString(")")
		}
		for _, s := range []string{" FROM ", r.Schema.table, " ", ra, " WHERE ", ra, ".", r.Foreign, " = ", alias, ".", r.Local} {
			b.WriteString(s)
		}
		if r.DeletedAt != "" {
			for _, s := range []string{" AND ", ra, ".", r.DeletedAt, " IS NULL"} {
				b.WriteString(s)
			}
		}
		b.WriteString(")")
	}
	b.WriteString(")")
}

// writePairs writes the 'name', value pairs of json_build_object.
func writePairs(b *strings.Builder, alias string, fields []*Field) {
	for i, f := range fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('\'')
		b.WriteString(f.Name)
		b.WriteString("', ")
		if f.Type == Timestamptz {
			// RFC 3339 in UTC with the fraction trimmed, exactly as Go's time.RFC3339Nano
			// renders a UTC time, so that a row reads the same in a list and in a single GET
			// (encoded by encoding/json), whatever the session's TimeZone.
			b.WriteString("rtrim(rtrim(to_char(")
			b.WriteString(alias)
			b.WriteByte('.')
			b.WriteString(f.Column)
			b.WriteString(` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z'`)
			continue
		}
		b.WriteString(alias)
		b.WriteByte('.')
		b.WriteString(f.Column)
	}
}

// Scope is what a store adds to a list statement: the table's alias and its own conditions
// (tenant scoping, soft delete), which the client can't influence.
type Scope struct {
	// Alias is the alias of the schema's table; Where refers to it.
	Alias string
	// Where is the store's own condition, trusted SQL written by the store; "" for none.
	Where string
	// Args are the values Where binds, as $1 to $len(Args).
	Args []any
}

// Statement is a ready list statement.
type Statement struct {
	// List selects the page: two columns per row, item (json, see Item) and key (json, the
	// sort key for the cursor; NULL outside cursor mode). In cursor mode it asks for one row
	// more than the limit, which ReadPage uses to know whether there is a next page.
	List     string
	ListArgs []any
	// Count counts the rows matching the filter (for total); "" in cursor mode, which reports
	// no total (counting would cost the very scan that keyset pagination avoids).
	Count     string
	CountArgs []any
}

// Build assembles the list statement for the schema's table under the store's scope.
func (q *Query) Build(sc Scope) Statement {
	mustIdent("alias", sc.Alias)
	a := sc.Alias
	args := Args(append([]any(nil), sc.Args...))
	where := q.Where(a, &args)
	if sc.Where != "" {
		where = "(" + sc.Where + ") AND " + where
	}
	from := " FROM " + q.schema.table + " " + a + " WHERE " + where
	var st Statement
	if !q.cursor {
		st.Count = "SELECT count(*)" + from
		st.CountArgs = append([]any(nil), args...)
	}
	var b strings.Builder
	b.Grow(512)
	b.WriteString("SELECT ")
	q.writeItem(&b, a)
	b.WriteString(" AS item, ")
	if q.cursor {
		b.WriteString(q.keyExpr(a))
	} else {
		b.WriteString("NULL::json")
	}
	b.WriteString(" AS key")
	b.WriteString(from)
	if after := q.After(a, &args); after != "" {
		b.WriteString(" AND " + after)
	}
	b.WriteString(" ORDER BY " + q.OrderBy(a))
	if q.cursor {
		b.WriteString(" LIMIT " + args.Add(q.limit+1))
	} else {
		b.WriteString(" LIMIT " + args.Add(q.limit) + " OFFSET " + args.Add(q.offset))
	}
	st.List = b.String()
	st.ListArgs = args
	return st
}

// Key returns a short digest that is equal for two queries over the same schema exactly when
// they select the same rows and render them the same way, for a cache key. It is computed from
// the statement and its values, so no parameter spelling (filter order aside), alias or
// duplicate can make equal queries differ. It ignores cache=0.
func (q *Query) Key() string {
	st := q.Build(Scope{Alias: "t"})
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d:%s", q.schema.name, len(st.List), st.List)
	for _, a := range st.ListArgs {
		switch a := a.(type) {
		case string:
			fmt.Fprintf(h, "\x00s%d:%s", len(a), a)
		case []string:
			fmt.Fprintf(h, "\x00l%d", len(a))
			for _, e := range a {
				fmt.Fprintf(h, "\x00%d:%s", len(e), e)
			}
		default:
			fmt.Fprintf(h, "\x00v%v", a)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
