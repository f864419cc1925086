package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Rows is the part of pgx.Rows that ReadPage uses.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Page is one page of a list, as a store reads it and a cache keeps it (its JSON): {data,
// count, total, page, pageCount} for page/offset pagination, {data, count, nextCursor} in
// cursor mode, {data, count} when no total was asked for (PostgREST without Prefer:
// count=exact). Respond turns that JSON into the answer of the query's dialect.
type Page struct {
	// Data holds the items, each the JSON object Item rendered.
	Data []json.RawMessage
	// NextCursor is the cursor of the next page; "" (null in JSON) on the last page.
	NextCursor string

	cursor     bool
	counted    bool
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
	p := &Page{cursor: q.cursor, counted: q.count, limit: q.limit, offset: q.offset, Data: []json.RawMessage{}}
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
func (p *Page) NeedsTotal() bool { return p.counted && !p.totalKnown }

// SetTotal sets the number of rows matching the filter, from Statement.Count.
func (p *Page) SetTotal(total int64) { p.total, p.totalKnown = total, true }

// Count returns the number of items on the page.
func (p *Page) Count() int { return len(p.Data) }

// Total returns the number of matching rows (outside cursor mode, once known).
func (p *Page) Total() int64 { return p.total }

// Number returns the page number as the reference reports it: floor(offset/limit)+1 (1 for
// PostgREST's limit=0, which has no pages).
func (p *Page) Number() int64 {
	if p.limit == 0 {
		return 1
	}
	return p.offset/p.limit + 1
}

// PageCount returns ceil(total/limit), and 1 when there are no rows (as the reference) or no
// pages.
func (p *Page) PageCount() int64 {
	if p.total == 0 || p.limit == 0 {
		return 1
	}
	return (p.total + p.limit - 1) / p.limit
}

// MarshalJSON renders the page in the nestjsx dialect's shape for its mode, which Respond reads
// for the PostgREST dialect's: {data, count, total, page, pageCount}, {data, count,
// nextCursor} in cursor mode, {data, count} when no total was asked for. It fails on a page
// whose total was needed and never set: that is a store bug, better loud than a wrong total.
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
	if !p.counted {
		return json.Marshal(struct {
			Data  []json.RawMessage `json:"data"`
			Count int               `json:"count"`
		}{p.data(), len(p.Data)})
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

// Respond turns page, the JSON of a Page of q (as a store made it, or a cache kept it), into
// the answer of q's dialect: the status and body to write, with the headers it sets on h. The
// nestjsx dialect answers page as it is. The PostgREST dialect answers a bare JSON array of the
// items, as PostgREST does, with the range in Content-Range (items first-last/total, */total
// for an empty page, * for the total without Prefer: count=exact) and, as PostgREST does, 206
// Partial Content when the total is known and the page holds fewer items; past the end, 200
// and [] (PostgREST answers 416). Both echo the dialect in X-Crud-Dialect. Its error is a bug
// of the caller's: page is not a Page's JSON.
func (q *Query) Respond(h http.Header, page []byte) (int, []byte, error) {
	h.Set(DialectHeader, q.dialect.String())
	if q.dialect != postgrest {
		return http.StatusOK, page, nil
	}
	var p struct {
		Data  json.RawMessage `json:"data"`
		Count int64           `json:"count"`
		Total *int64          `json:"total"`
	}
	if err := json.Unmarshal(page, &p); err != nil {
		return 0, nil, fmt.Errorf("query: read page: %w", err)
	}
	if p.Data == nil {
		return 0, nil, errors.New("query: page without data")
	}
	total := "*"
	if p.Total != nil {
		total = strconv.FormatInt(*p.Total, 10)
	}
	rng := "*/" + total
	if p.Count > 0 {
		rng = strconv.FormatInt(q.offset, 10) + "-" + strconv.FormatInt(q.offset+p.Count-1, 10) + "/" + total
	}
	h.Set("Content-Range", rng)
	status := http.StatusOK
	if p.Total != nil && p.Count < *p.Total && q.offset <= *p.Total {
		status = http.StatusPartialContent
	}
	return status, p.Data, nil
}
