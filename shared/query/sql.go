package query

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
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
	var b strings.Builder
	as := aliases{own: alias}
	switch {
	case q.where == nil && q.related == nil:
		b.WriteString("TRUE")
	case q.related == nil:
		q.where.sql(&b, as, args)
	case q.where == nil:
		writeRelated(&b, as, nil, q.related, args)
	default:
		q.where.sql(&b, as, args)
		b.WriteString(" AND ")
		writeRelated(&b, as, nil, q.related, args)
	}
	return b.String()
}

// writeRelated writes n, a condition over the rows of scope (nil: the query's own; else a
// join's, whose where n is) that names the fields of joins nested in them, with the
// reference's semantics: it holds when it holds for the row together with one row of each join
// it names and of each join between (a row of its parent's), NULLs standing for a join with no
// (live) row, as the reference's LEFT JOINs evaluate its WHERE on every joined row. A join
// already in as is the row a subquery is loading (see writeJoins); the others are quantified
// by an EXISTS over LEFT JOINs from a one-row relation, parents first, which keeps the NULL row
// of a parent without related rows. Everything is correlated to the rows in as: one statement,
// answered on the relations' foreign-key indexes.
func writeRelated(b *strings.Builder, as aliases, scope *join, n *node, args *Args) {
	var free []*join
	for j := range n.involved(scope) {
		if _, bound := as.at[j]; !bound {
			free = append(free, j)
		}
	}
	if len(free) == 0 {
		n.sql(b, as, args)
		return
	}
	slices.SortFunc(free, func(a, b *join) int { return a.n - b.n }) // pre-order: parents first
	b.WriteString("EXISTS (SELECT FROM (SELECT) AS one")
	for _, j := range free {
		ja := as.own + "_f" + strconv.Itoa(j.n)
		b.WriteString(" LEFT JOIN " + j.rel.Schema.table + " " + ja + " ON ")
		writeLink(b, j.rel, ja, as.of(j.parent))
		as = as.with(j, ja)
	}
	b.WriteString(" WHERE ")
	n.sql(b, as, args)
	b.WriteString(")")
}

// writeLink writes the condition that a row ra of relation r belongs to the row alias: the
// foreign key, and r's live rows only.
func writeLink(b *strings.Builder, r *Relation, ra, alias string) {
	for _, s := range []string{ra, ".", r.Foreign, " = ", alias, ".", r.Local} {
		b.WriteString(s)
	}
	if r.DeletedAt != "" {
		for _, s := range []string{" AND ", ra, ".", r.DeletedAt, " IS NULL"} {
			b.WriteString(s)
		}
	}
}

// OrderBy returns the ORDER BY list (without the key words): the client's sort terms, text
// under collation (so that the order is the same on every database), with their NULL
// placement spelled out (NULLS LAST for ASC and FIRST for DESC unless a PostgREST order said
// otherwise), then id.
func (q *Query) OrderBy(alias string) string {
	mustIdent("alias", alias)
	var b strings.Builder
	for i, k := range q.sort {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(sortExpr(alias, k.field))
		if k.desc {
			b.WriteString(" DESC")
		} else {
			b.WriteString(" ASC")
		}
		if k.nullsFirst {
			b.WriteString(" NULLS FIRST")
		} else {
			b.WriteString(" NULLS LAST")
		}
	}
	return b.String()
}

// sortExpr is the expression a field sorts by, in ORDER BY and in the keyset comparison.
func sortExpr(alias string, f *Field) string {
	if f.Type.textual() {
		return alias + "." + f.Column + " COLLATE " + collation
	}
	return alias + "." + f.Column
}

// Item returns the SQL expression that renders one row of alias as the JSON object the API
// answers, appending the values it binds to args: the selected fields under their API names,
// and each joined relation under its name, loaded by a correlated subquery in the same
// statement (a JSON array for a one-to-many relation, ordered by id and [] when empty; an
// object or null for a many-to-one relation), and each nested join likewise in its parent's
// object. A relation's rows are those the query's conditions on its fields (and on the fields
// of the joins nested in it) accept (see writeRelated), and its embedded filters. The
// subqueries run once per row of their parent, on the relation's foreign-key index, inside the
// one statement: there is no N+1 round trip.
func (q *Query) Item(alias string, args *Args) string {
	mustIdent("alias", alias)
	var b strings.Builder
	q.writeItem(&b, alias, args)
	return b.String()
}

func (q *Query) writeItem(b *strings.Builder, alias string, args *Args) {
	b.WriteString("json_build_object(")
	writePairs(b, alias, q.fields)
	q.writeJoins(b, aliases{own: alias}, q.joins, len(q.fields) > 0, args)
	b.WriteString(")")
}

// writeJoins writes the 'name', (subquery) pairs of joins, nested in the row of their parent,
// which as names, after other pairs when comma is set.
func (q *Query) writeJoins(b *strings.Builder, as aliases, joins []*join, comma bool, args *Args) {
	for i, j := range joins {
		r := j.rel
		ja := as.own + "_j" + strconv.Itoa(j.n)
		in := as.with(j, ja)
		if comma || i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + r.Name + "', (SELECT ")
		if r.Many {
			b.WriteString("coalesce(json_agg(")
		}
		b.WriteString("json_build_object(")
		writePairs(b, ja, j.fields)
		q.writeJoins(b, in, j.joins, len(j.fields) > 0, args)
		b.WriteString(")")
		if r.Many {
			b.WriteString(" ORDER BY " + ja + "." + r.Schema.id.Column + "), '[]'::json)")
		}
		b.WriteString(" FROM " + r.Schema.table + " " + ja + " WHERE ")
		writeLink(b, r, ja, as.of(j.parent))
		// The conditions on j's rows: its own where, and those of its parents' rows and of the
		// query's that name j's fields or those of a join nested in it.
		for s := j; ; s = s.parent {
			n := q.related
			if s != nil {
				n = s.where
			}
			if n != nil && (s == j || n.involved(s)[j]) {
				b.WriteString(" AND ")
				writeRelated(b, in, s, n, args)
			}
			if s == nil {
				break
			}
		}
		b.WriteString(")")
	}
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
	// Count counts the rows matching the filter (for total); "" when the query reports no
	// total: in cursor mode (counting would cost the very scan that keyset pagination avoids)
	// and in the PostgREST dialect without Prefer: count=exact.
	Count     string
	CountArgs []any
}

// Build assembles the list statement for the schema's table under the store's scope.
func (q *Query) Build(sc Scope) Statement { return q.build(sc, false) }

// BuildPart assembles the statement that one of several databases holding the schema's table
// (the shards of a sharded deployment) runs for q under its own scope, for Merge: the first
// offset+limit rows that database would sort first (limit+1 in cursor mode, after the cursor),
// each with its sort key, and the same Count as Build's.
func (q *Query) BuildPart(sc Scope) Statement { return q.build(sc, true) }

func (q *Query) build(sc Scope, part bool) Statement {
	mustIdent("alias", sc.Alias)
	a := sc.Alias
	args := Args(append([]any(nil), sc.Args...))
	where := q.Where(a, &args)
	if sc.Where != "" {
		where = "(" + sc.Where + ") AND " + where
	}
	from := " FROM " + q.schema.table + " " + a + " WHERE " + where
	var st Statement
	if q.count {
		st.Count = "SELECT count(*)" + from
		st.CountArgs = append([]any(nil), args...)
	}
	var b strings.Builder
	b.Grow(512)
	b.WriteString("SELECT ")
	q.writeItem(&b, a, &args)
	b.WriteString(" AS item, ")
	if q.cursor || part {
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
	switch {
	case q.cursor:
		b.WriteString(" LIMIT " + args.Add(q.limit+1))
	case part:
		b.WriteString(" LIMIT " + args.Add(q.partLimit()))
	default:
		b.WriteString(" LIMIT " + args.Add(q.limit) + " OFFSET " + args.Add(q.offset))
	}
	st.List = b.String()
	st.ListArgs = args
	return st
}

// Key returns a short digest that is equal for two queries over the same schema exactly when
// they select the same rows and render them the same way, for a cache key. It is computed from
// the statement and its values, and whether the total is counted, so no parameter spelling
// (filter order aside), alias, duplicate or dialect can make equal queries differ: a nestjsx
// query and its PostgREST spelling with Prefer: count=exact share an entry, since the cached
// page is the same and only Respond tells them apart. It ignores cache=0.
//
// The digest is computed once (a request names its list's key before its first round trip and
// again to read it) and remembered, so Key, unlike the rest of a Query, is not for concurrent
// first use.
func (q *Query) Key() string {
	if q.key == "" {
		q.key = q.digest()
	}
	return q.key
}

// digest is Key's computation.
func (q *Query) digest() string {
	st := q.Build(Scope{Alias: "t"})
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%t\x00%d:%s", q.schema.name, q.count, len(st.List), st.List)
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
