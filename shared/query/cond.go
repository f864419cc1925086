package query

import (
	"slices"
	"strconv"
	"strings"
)

// node is a boolean expression over conditions: a leaf (cond set) or an AND/OR group.
type node struct {
	or   bool
	kids []*node
	cond *cond
}

// cond is one validated condition: an allow-listed field, an operator that applies to it, and
// canonical values (for the LIKE family, the escaped pattern).
type cond struct {
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

// Args is the list of values bound to a statement: the n-th value is $n. A store puts its own
// values first (its tenant scope) and hands the list to the methods of Query, which append
// theirs, so that the placeholders of both never collide.
type Args []any

// Add appends v and returns its placeholder.
func (a *Args) Add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// sql writes n as a boolean SQL expression over the columns of alias, binding every value.
func (n *node) sql(b *strings.Builder, alias string, args *Args) {
	if n.cond != nil {
		n.cond.sql(b, alias, args)
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
		k.sql(b, alias, args)
	}
	b.WriteByte(')')
}

// sql writes one condition. Each placeholder carries a cast to the field's type (see
// Type.cast); comparisons are written so that NULL never satisfies a negative operator
// (<>, NOT LIKE and <> ALL are all NULL, hence false, on a NULL column).
func (c *cond) sql(b *strings.Builder, alias string, args *Args) {
	cast := c.field.Type.cast()
	col := func() {
		if c.op.lower {
			b.WriteString("lower(")
		}
		b.WriteString(alias)
		b.WriteByte('.')
		b.WriteString(c.field.Column)
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
			// lower() runs in SQL, on both sides, so that it is the database's notion of lower
			// case (its collation), the one applied to the column.
			b.WriteString("SELECT lower(v) FROM unnest(")
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
			b.WriteByte(')')
		} else {
			param(c.vals[0])
		}
		if c.op.like != likeNone {
			b.WriteString(` ESCAPE '\'`)
		}
	}
}
