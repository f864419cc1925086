package query

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// node is a boolean expression over conditions: a leaf (cond set) or an AND/OR group. There is
// no NOT node: a dialect's negations are pushed down to the leaves when parsing (see
// postgrest.go), so that equal queries are equal trees, whatever their spelling.
type node struct {
	or   bool
	kids []*node
	cond *cond
}

// cond is one validated condition: an allow-listed field, of the query's own schema (at nil) or
// of a join's relation (at), an operator that applies to it, and canonical values (for the LIKE
// family, the escaped pattern).
type cond struct {
	at    *join
	field *Field
	op    *operator
	vals  []string
}

// group builds an AND (or OR) of kids. A nil node means "no condition" (TRUE): it vanishes
// from an AND and makes an OR TRUE as a whole. No kids at all is also "no condition", so that
// an empty "$and":[] or "$or":[] is ignored, as the reference ignores it. A single kid is
// unwrapped and nested groups of the same kind are flattened, so that the SQL carries no
// redundant parentheses.
func group(or bool, kids []*node) *node {
	out := make([]*node, 0, len(kids))
	for _, k := range kids {
		if k == nil {
			if or {
				return nil
			}
			continue
		}
		if k.cond == nil && k.or == or {
			out = append(out, k.kids...) // (a AND (b AND c)) is (a AND b AND c)
			continue
		}
		out = append(out, k)
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return &node{or: or, kids: out}
}

// related reports whether n names a field of a join.
func (n *node) related() bool {
	if n.cond != nil {
		return n.cond.at != nil
	}
	return slices.ContainsFunc(n.kids, (*node).related)
}

// involved returns the joins that n, a condition over the rows of scope (nil: the query's
// own), depends on: those whose fields it names, and the joins between them and scope, through
// which their rows are reached.
func (n *node) involved(scope *join) map[*join]bool {
	set := map[*join]bool{}
	var walk func(*node)
	walk = func(n *node) {
		if n.cond != nil {
			for j := n.cond.at; j != scope; j = j.parent {
				set[j] = true
			}
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(n)
	return set
}

// split separates the top-level conjuncts of n that name only the schema's own fields (own)
// from those that name a relation's (related): own goes in the WHERE as it is, where an index
// can serve it, and only related needs the relations (see Query.writeRelated).
func split(n *node) (own, related *node) {
	switch {
	case n == nil:
		return nil, nil
	case n.cond != nil || n.or:
		if n.related() {
			return nil, n
		}
		return n, nil
	}
	var o, r []*node
	for _, k := range n.kids {
		if k.related() {
			r = append(r, k)
		} else {
			o = append(o, k)
		}
	}
	return group(false, o), group(false, r)
}

// Args is the list of values bound to a statement: the n-th value is $n. A store puts its own
// values first (its tenant scope) and hands the list to the methods of Query, which append
// theirs, so that the placeholders of both never collide.
type Args []any

// Add appends v and returns its placeholder.
func (a *Args) Add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// collation is the collation text sorts, compares by order and folds case under: ICU's root
// locale, present on every PostgreSQL built with ICU (Debian's, RDS and Aurora, Homebrew's), so
// that the answers are the same on every database the project runs on whatever locale it was
// created with. It is a fixed identifier, never client text.
const collation = `"und-x-icu"`

// aliases names the tables a condition may refer to in the statement being written: the
// schema's own (own) and the joins in scope.
type aliases struct {
	own string
	at  map[*join]string
}

// of returns the alias of the rows of j (nil: the schema's own).
func (a aliases) of(j *join) string {
	if j == nil {
		return a.own
	}
	return a.at[j]
}

// with returns a copy of a that also names j's rows ja.
func (a aliases) with(j *join, ja string) aliases {
	at := maps.Clone(a.at)
	if at == nil {
		at = map[*join]string{}
	}
	at[j] = ja
	return aliases{own: a.own, at: at}
}

// sql writes n as a boolean SQL expression over the tables of as, binding every value.
func (n *node) sql(b *strings.Builder, as aliases, args *Args) {
	if n.cond != nil {
		n.cond.sql(b, as.of(n.cond.at), args)
		return
	}
	sep := " AND "
	if n.or {
		sep = " OR "
	}
	b.WriteByte('(')
	for i, k := range n.kids {
		if i > 0 {
			b.WriteString(sep)
		}
		k.sql(b, as, args)
	}
	b.WriteByte(')')
}

// sql writes one condition on the columns of alias. Each placeholder carries a cast to the
// field's type (see Type.cast); comparisons are written so that NULL never satisfies a
// negative operator (<>, NOT LIKE and <> ALL are all NULL, hence false, on a NULL column).
//
// Text is compared by order, and case-folded, under collation, on both sides: the column's
// own collation (the database's locale) would make lower() fold ASCII only on a C database
// and $gt disagree with the sort. Equality and LIKE keep the column's collation: with a
// deterministic collation they compare bytes either way, and so can still use a plain index.
func (c *cond) sql(b *strings.Builder, alias string, args *Args) {
	cast := c.field.Type.cast()
	collate := c.field.Type.textual() && (c.op.lower || c.op.ordered())
	col := func() {
		if c.op.lower {
			b.WriteString("lower(")
		}
		b.WriteString(alias)
		b.WriteByte('.')
		b.WriteString(c.field.Column)
		if collate {
			b.WriteString(" COLLATE " + collation)
		}
		if c.op.lower {
			b.WriteByte(')')
		}
	}
	param := func(v any) {
		b.WriteString(args.Add(v))
		b.WriteString("::")
		b.WriteString(cast)
	}
	switch c.op.arity {
	case arityNone:
		col()
		if c.op.not {
			b.WriteString(" IS NOT NULL")
		} else {
			b.WriteString(" IS NULL")
		}
	case arityPair:
		// Parenthesised because BETWEEN's own AND would otherwise read, to a human, as part of
		// the surrounding AND chain.
		b.WriteByte('(')
		col()
		b.WriteString(" BETWEEN ")
		param(c.vals[0])
		b.WriteString(" AND ")
		param(c.vals[1])
		b.WriteByte(')')
	case arityList:
		col()
		if c.op.not {
			b.WriteString(" <> ALL(")
		} else {
			b.WriteString(" = ANY(")
		}
		vals := slices.Clone(c.vals) // the caller owns args; the query stays immutable
		if c.op.lower {
			b.WriteString("SELECT lower(v COLLATE " + collation + ") FROM unnest(")
			b.WriteString(args.Add(vals))
			b.WriteString("::text[]) AS v)")
			return
		}
		param(vals)
		b.WriteString("[])")
	case arityOne:
		col()
		switch {
		case c.op.like == likeNone:
			b.WriteByte(' ')
			b.WriteString(c.op.cmp)
			b.WriteByte(' ')
		case c.op.not:
			b.WriteString(" NOT LIKE ")
		default:
			b.WriteString(" LIKE ")
		}
		if c.op.lower {
			b.WriteString("lower(")
			param(c.vals[0])
			b.WriteString(" COLLATE " + collation + ")")
		} else {
			param(c.vals[0])
		}
		if c.op.like != likeNone {
			b.WriteString(` ESCAPE '\'`)
		}
	}
}
