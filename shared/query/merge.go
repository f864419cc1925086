package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Part is what one database answered to a BuildPart statement: its first rows in the query's
// order, with their sort keys, and, outside cursor mode, how many of its rows match.
type Part struct {
	items, keys [][]byte
	total       int64
	totalKnown  bool
	counted     bool
}

// partLimit is how many rows each part returns: every row that could be on the page once the
// parts are merged.
func (q *Query) partLimit() int64 {
	if q.limit == 0 {
		return 0
	}
	if q.offset > math.MaxInt64-q.limit {
		return math.MaxInt64 // an offset past every row: each part returns all it has
	}
	return q.offset + q.limit
}

// ReadPart reads the rows of a BuildPart statement and closes them. Outside cursor mode it
// works out the part's total when its rows prove it (fewer than it asked for); otherwise the
// store runs Statement.Count and calls SetTotal (NeedsTotal).
func (q *Query) ReadPart(rows Rows) (*Part, error) {
	defer rows.Close()
	p := &Part{counted: q.count}
	for rows.Next() {
		var item, key []byte
		if err := rows.Scan(&item, &key); err != nil {
			return nil, fmt.Errorf("query: scan item: %w", err)
		}
		p.items = append(p.items, item)
		p.keys = append(p.keys, key)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !q.cursor && int64(len(p.items)) < q.partLimit() {
		p.total, p.totalKnown = int64(len(p.items)), true
	}
	return p, nil
}

// NeedsTotal reports whether the store must run the part's Statement.Count and call SetTotal.
func (p *Part) NeedsTotal() bool { return p.counted && !p.totalKnown }

// SetTotal sets the number of the part's rows matching the filter.
func (p *Part) SetTotal(total int64) { p.total, p.totalKnown = total, true }

// MergeStatement returns the statement that orders the rows of parts as one database would
// order them all: it takes their sort keys and answers their indexes (into the parts' rows
// concatenated in order), sorted by the query's ORDER BY, under the same collation and NULLS
// placement, so that text sorts exactly as on the shards themselves. It runs on any database
// of the deployment and reads no table. ok is false when there is nothing to order (at most one
// part has rows), and Merge can take the rows as they are.
func (q *Query) MergeStatement(parts []*Part) (sql string, args []any, ok bool) {
	withRows := 0
	var b bytes.Buffer
	b.WriteByte('[')
	n := 0
	for _, p := range parts {
		if len(p.keys) > 0 {
			withRows++
		}
		for _, k := range p.keys {
			if n > 0 {
				b.WriteByte(',')
			}
			b.Write(k)
			n++
		}
	}
	b.WriteByte(']')
	if withRows < 2 {
		return "", nil, false
	}
	var s strings.Builder
	s.WriteString("SELECT (r.i - 1)::int FROM json_array_elements($1::json) WITH ORDINALITY AS r(k, i) ORDER BY ")
	for i, k := range q.sort {
		v := "(r.k->>" + strconv.Itoa(i) + ")"
		switch k.field.Type {
		case Text, Enum:
			v += " COLLATE " + collation
		case Int:
			v += "::bigint"
		case Float:
			v += "::float8"
		case Numeric:
			v += "::numeric"
		case Bool:
			v += "::boolean"
		case Date:
			v += "::date"
		case Timestamptz:
			v += "::timestamptz"
		case UUID:
			v += "::uuid"
		case JSON:
			v = "(r.k->" + strconv.Itoa(i) + ")::jsonb"
		}
		s.WriteString(v)
		if k.desc {
			s.WriteString(" DESC")
		} else {
			s.WriteString(" ASC")
		}
		if k.nullsFirst {
			s.WriteString(" NULLS FIRST, ")
		} else {
			s.WriteString(" NULLS LAST, ")
		}
	}
	s.WriteString("r.i")
	return s.String(), []any{b.String()}, true
}

// Merge makes q's page out of parts, whose rows order lists in the query's order (the answer
// of MergeStatement; nil when it had nothing to order): the page one database holding every
// part's rows would answer, with the same items, the same next cursor and, outside cursor mode,
// the sum of the parts' totals.
func (q *Query) Merge(parts []*Part, order []int) (*Page, error) {
	var items, keys [][]byte
	for _, p := range parts {
		items = append(items, p.items...)
		keys = append(keys, p.keys...)
	}
	if order == nil {
		order = make([]int, len(items))
		for i := range order {
			order[i] = i
		}
	}
	if len(order) != len(items) {
		return nil, fmt.Errorf("query: merge: %d rows ordered of %d", len(order), len(items))
	}
	page := &Page{cursor: q.cursor, counted: q.count, limit: q.limit, offset: q.offset, Data: []json.RawMessage{}}
	start := int64(0)
	if !q.cursor {
		start = q.offset
	}
	for i := start; i < int64(len(order)) && int64(len(page.Data)) < q.limit; i++ {
		j := order[i]
		if j < 0 || j >= len(items) {
			return nil, fmt.Errorf("query: merge: row %d of %d", j, len(items))
		}
		page.Data = append(page.Data, json.RawMessage(items[j]))
	}
	if q.cursor {
		if int64(len(order)) > q.limit && q.limit > 0 {
			c, err := q.encodeCursor(keys[order[q.limit-1]])
			if err != nil {
				return nil, err
			}
			page.NextCursor = c
		}
		return page, nil
	}
	if q.count {
		var total int64
		for _, p := range parts {
			if !p.totalKnown {
				return nil, fmt.Errorf("query: merge: a part's total is not set")
			}
			total += p.total
		}
		page.SetTotal(total)
	}
	return page, nil
}
