package query

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// A cursor is base64url (unpadded) of the JSON {"f": fingerprint, "k": [values]}: the
// canonical text of the sort key values of the last row of the previous page (null for NULL),
// one per sort term, id last. The fingerprint is a hash of the schema and the sort it was made
// for, so a cursor used with another sort (or on another resource) is refused instead of
// silently skipping or repeating rows. Cursors are opaque to clients but not secret: they only
// hold values the client has already seen, and every value is re-validated on the way in.
type cursorPayload struct {
	F string    `json:"f"`
	K []*string `json:"k"`
}

// maxCursor bounds the size of a cursor a client may send.
const maxCursor = 4096

// fingerprint identifies the sort a cursor was made for.
func (q *Query) fingerprint() string {
	h := sha256.Sum256([]byte(q.sortSpec))
	return base64.RawURLEncoding.EncodeToString(h[:9])
}

// decodeCursor checks a client's cursor against the current sort and returns its values.
func (q *Query) decodeCursor(raw string) ([]*string, error) {
	invalid := bad("cursor: not a cursor of this list")
	if len(raw) > maxCursor {
		return nil, invalid
	}
	data, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(raw, "="))
	if err != nil {
		return nil, invalid
	}
	var c cursorPayload
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, invalid
	}
	if c.F != q.fingerprint() {
		return nil, bad("cursor: made for another sort; repeat the sort of the first page")
	}
	if len(c.K) != len(q.sort) {
		return nil, invalid
	}
	out := make([]*string, len(c.K))
	for i, v := range c.K {
		f := q.sort[i].field
		if v == nil {
			if !f.Nullable {
				return nil, invalid
			}
			continue
		}
		s, want := keyValue(f.Type, *v)
		if want != "" {
			return nil, invalid
		}
		out[i] = &s
	}
	return out, nil
}

// encodeCursor builds the cursor after a row from the JSON array the key expression (see
// keyExpr) produced for it.
func (q *Query) encodeCursor(key []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(key))
	dec.UseNumber()
	var vals []any
	if err := dec.Decode(&vals); err != nil {
		return "", fmt.Errorf("query: decode sort key: %w", err)
	}
	if len(vals) != len(q.sort) {
		return "", fmt.Errorf("query: sort key has %d values, want %d", len(vals), len(q.sort))
	}
	c := cursorPayload{F: q.fingerprint(), K: make([]*string, len(vals))}
	for i, v := range vals {
		var s string
		switch v := v.(type) {
		case nil:
			// The database renders NULL only for a nullable column; a NULL elsewhere is a
			// key that decodeCursor would refuse.
			if !q.sort[i].field.Nullable {
				return "", fmt.Errorf("query: sort key value %d (%s) is NULL, which the field is not", i, q.sort[i].field.Name)
			}
			continue
		case string:
			s = v
		case json.Number:
			s = v.String()
		case bool:
			s = fmt.Sprint(v)
		default:
			return "", fmt.Errorf("query: sort key value %d is a %T", i, v)
		}
		// The database renders timestamptz with the session's offset; keyValue turns it into
		// UTC so that the cursor doesn't depend on the session.
		cs, want := keyValue(q.sort[i].field.Type, s)
		if want != "" {
			return "", fmt.Errorf("query: sort key value %d (%s): %q is not %s", i, q.sort[i].field.Name, s, want)
		}
		c.K[i] = &cs
	}
	data, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(data), nil
}

// keyValue is canonical for a sort key value: a column may also hold what no condition
// accepts, and its rows must page all the same. A float or numeric column holds NaN and
// ±Infinity (PostgreSQL orders NaN above every number, and equal to itself), and a numeric one
// values longer than maxNumeric.
func keyValue(t Type, v string) (string, string) {
	switch {
	case (t == Float || t == Numeric) && (v == "NaN" || v == "Infinity" || v == "-Infinity"):
		return v, ""
	case t == Numeric && numericRE.MatchString(v):
		return v, ""
	}
	return canonical(t, v)
}

// keyExpr is the JSON array of the sort key values of a row, the input of encodeCursor.
func (q *Query) keyExpr(alias string) string {
	var b strings.Builder
	b.WriteString("json_build_array(")
	for i, k := range q.sort {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(alias + "." + k.field.Column)
	}
	b.WriteString(")")
	return b.String()
}

// After returns the keyset condition "the row sorts after the cursor", or "" when there is no
// cursor (no cursor mode, or its first page). Values are bound to args; text compares under
// the collation it sorts by (see sortExpr), or pages would skip and repeat rows.
//
// When every sort term has the same direction and no sort column is nullable, it is a row
// comparison, (a, id) > ($1, $2), which PostgreSQL answers with a single index range scan.
// Otherwise it is the expanded form, nested to bind each value once:
//
//	a > $1 OR a IS NULL OR (a = $1 AND id > $2)       -- a ASC NULLS LAST, nullable
//	a < $1 OR (a = $1 AND id < $2)                     -- a DESC NULLS FIRST
//
// with NULL cursor values handled by IS [NOT] NULL: after a NULL in a NULLS LAST column only
// other NULLs with a later tiebreak follow; after a NULL in a NULLS FIRST column come those
// NULLs and then every non-NULL value.
func (q *Query) After(alias string, args *Args) string {
	if q.after == nil {
		return ""
	}
	sameDir, nullable := true, false
	for _, k := range q.sort {
		sameDir = sameDir && k.desc == q.sort[0].desc
		nullable = nullable || k.field.Nullable
	}
	if sameDir && !nullable {
		cols := make([]string, len(q.sort))
		vals := make([]string, len(q.sort))
		for i, k := range q.sort {
			cols[i] = sortExpr(alias, k.field)
			vals[i] = args.Add(*q.after[i]) + "::" + k.field.Type.cast()
		}
		cmp := " > "
		if q.sort[0].desc {
			cmp = " < "
		}
		if len(cols) == 1 {
			return cols[0] + cmp + vals[0]
		}
		return "(" + strings.Join(cols, ", ") + ")" + cmp + "(" + strings.Join(vals, ", ") + ")"
	}
	return q.afterFrom(0, alias, args)
}

// afterFrom is the expanded keyset condition over sort terms i and later; "" means FALSE.
func (q *Query) afterFrom(i int, alias string, args *Args) string {
	k := q.sort[i]
	col := sortExpr(alias, k.field)
	v := q.after[i]
	last := i == len(q.sort)-1
	var terms []string
	var eq string
	if v == nil {
		if k.nullsFirst {
			terms = append(terms, col+" IS NOT NULL")
		}
		eq = col + " IS NULL"
	} else {
		p := args.Add(*v) + "::" + k.field.Type.cast()
		if k.desc {
			terms = append(terms, col+" < "+p)
		} else {
			terms = append(terms, col+" > "+p)
		}
		if k.field.Nullable && !k.nullsFirst {
			terms = append(terms, col+" IS NULL")
		}
		eq = col + " = " + p
	}
	if !last {
		if rest := q.afterFrom(i+1, alias, args); rest != "" {
			terms = append(terms, "("+eq+" AND "+rest+")")
		}
	}
	switch len(terms) {
	case 0:
		return ""
	case 1:
		return terms[0]
	}
	return "(" + strings.Join(terms, " OR ") + ")"
}
