package query

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Rows is the part of pgx.Rows that ReadPage uses.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Page is one page of a list, as the API answers it: {data, count, total, page, pageCount} for
// page/offset pagination, {data, count, nextCursor} in cursor mode.
type Page struct {
	// Data holds the items, each the JSON object Item rendered.
	Data []json.RawMessage
	// NextCursor is the cursor of the next page; "" (null in JSON) on the last page.
	NextCursor string

	cursor     bool
	limit      int64
	offset     int64
	total      int64
	totalKnown bool
}

// ReadPage reads the rows of Statement.List and closes them. In cursor mode it drops the
// look-ahead row and sets NextCursor from the last row kept. Outside cursor mode it also works
// out the total when the page proves it (a short page that isn't past the end), in which case
// NeedsTotal is false and the store can skip the Count statement.
func (q *Query) ReadPage(rows Rows) (*Page, error) {
	defer rows.Close()
	p := &Page{cursor: q.cursor, limit: q.limit, offset: q.offset, Data: []json.RawMessage{}}
	var lastKey, keepKey []byte
	for rows.Next() {
		var item, key []byte
		if err := rows.Scan(&item, &key); err != nil {
			return nil, fmt.Errorf("query: scan item: %w", err)
		}
		if int64(len(p.Data)) == q.limit {
			// The look-ahead row of cursor mode: there is a next page, after the previous row.
			keepKey = lastKey
			break
		}
		p.Data = append(p.Data, json.RawMessage(item))
		lastKey = key
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if q.cursor {
		if keepKey != nil {
			c, err := q.encodeCursor(keepKey)
			if err != nil {
				return nil, err
			}
			p.NextCursor = c
		}
		return p, nil
	}
	if n := int64(len(p.Data)); n < q.limit && (n > 0 || q.offset == 0) {
		p.total, p.totalKnown = q.offset+n, true
	}
	return p, nil
}

// NeedsTotal reports whether the store must run Statement.Count and call SetTotal.
func (p *Page) NeedsTotal() bool { return !p.cursor && !p.totalKnown }

// SetTotal sets the number of rows matching the filter, from Statement.Count.
func (p *Page) SetTotal(total int64) { p.total, p.totalKnown = total, true }

// Count returns the number of items on the page.
func (p *Page) Count() int { return len(p.Data) }

// Total returns the number of matching rows (outside cursor mode, once known).
func (p *Page) Total() int64 { return p.total }

// Number returns the page number as the reference reports it: floor(offset/limit)+1.
func (p *Page) Number() int64 { return p.offset/p.limit + 1 }

// PageCount returns ceil(total/limit), and 1 when there are no rows (as the reference).
func (p *Page) PageCount() int64 {
	if p.total == 0 {
		return 1
	}
	return (p.total + p.limit - 1) / p.limit
}

// MarshalJSON renders the page in the API's shape for its mode. It fails on a page whose total
// was needed and never set: that is a store bug, better loud than a wrong total.
func (p *Page) MarshalJSON() ([]byte, error) {
	if p.cursor {
		var next *string
		if p.NextCursor != "" {
			next = &p.NextCursor
		}
		return json.Marshal(struct {
			Data       []json.RawMessage `json:"data"`
			Count      int               `json:"count"`
			NextCursor *string           `json:"nextCursor"`
		}{p.data(), len(p.Data), next})
	}
	if !p.totalKnown {
		return nil, errors.New("query: page total not set (run Statement.Count and call SetTotal)")
	}
	return json.Marshal(struct {
		Data      []json.RawMessage `json:"data"`
		Count     int               `json:"count"`
		Total     int64             `json:"total"`
		Page      int64             `json:"page"`
		PageCount int64             `json:"pageCount"`
	}{p.data(), len(p.Data), p.total, p.Number(), p.PageCount()})
}

func (p *Page) data() []json.RawMessage {
	if p.Data == nil {
		return []json.RawMessage{}
	}
	return p.Data
}
