package query

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// fakeRows replays (item, key) pairs; ReadPage is pure logic over them.
type fakeRows struct {
	rows   [][2][]byte
	i      int
	closed bool
}

func (r *fakeRows) Next() bool { r.i++; return r.i <= len(r.rows) }
func (r *fakeRows) Scan(dest ...any) error {
	*dest[0].(*[]byte) = r.rows[r.i-1][0]
	*dest[1].(*[]byte) = r.rows[r.i-1][1]
	return nil
}
func (r *fakeRows) Err() error { return nil }
func (r *fakeRows) Close()     { r.closed = true }

func rowsOf(n int, cursor bool) *fakeRows {
	r := &fakeRows{}
	for i := range n {
		var key []byte
		if cursor {
			key = fmt.Appendf(nil, `["0190a1b2-c3d4-7e5f-8a9b-%012d"]`, i)
		}
		r.rows = append(r.rows, [2][]byte{fmt.Appendf(nil, `{"n":%d}`, i), key})
	}
	return r
}

func TestReadPageOffset(t *testing.T) {
	cases := []struct {
		query      string
		rows       int
		needsTotal bool
		total      int64
		want       string
	}{
		{"limit=10", 0, false, 0, `"count":0,"total":0,"page":1,"pageCount":1`},
		{"limit=10", 4, false, 0, `"count":4,"total":4,"page":1,"pageCount":1`},
		{"limit=10", 10, true, 35, `"count":10,"total":35,"page":1,"pageCount":4`},
		{"limit=10&page=4", 5, false, 0, `"count":5,"total":35,"page":4,"pageCount":4`},
		{"limit=10&page=9", 0, true, 35, `"count":0,"total":35,"page":9,"pageCount":4`},
		{"limit=10&offset=15", 10, true, 35, `"count":10,"total":35,"page":2,"pageCount":4`},
		{"limit=10&offset=30", 5, false, 0, `"count":5,"total":35,"page":4,"pageCount":4`},
		{"limit=7&offset=3", 7, true, 10, `"count":7,"total":10,"page":1,"pageCount":2`},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%d", c.query, c.rows), func(t *testing.T) {
			q := mustParse(t, c.query, testProjects)
			rows := rowsOf(c.rows, false)
			p, err := q.ReadPage(rows)
			if err != nil {
				t.Fatal(err)
			}
			if !rows.closed {
				t.Error("rows not closed")
			}
			if p.NeedsTotal() != c.needsTotal {
				t.Fatalf("NeedsTotal = %v", p.NeedsTotal())
			}
			if p.NeedsTotal() {
				if _, err := json.Marshal(p); err == nil {
					t.Fatal("a page without its total marshalled")
				}
				p.SetTotal(c.total)
			}
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var items []string
			for i := range c.rows {
				items = append(items, fmt.Sprintf(`{"n":%d}`, i))
			}
			data := "[]"
			if len(items) > 0 {
				data = "[" + strings.Join(items, ",") + "]"
			}
			if want := `{"data":` + data + "," + c.want + "}"; string(b) != want {
				t.Fatalf("got  %s\nwant %s", b, want)
			}
		})
	}
}

func TestReadPageCursor(t *testing.T) {
	q := mustParse(t, "limit=3&cursor=", testProjects)

	p, err := q.ReadPage(rowsOf(4, true)) // the look-ahead row says there is more
	if err != nil {
		t.Fatal(err)
	}
	if p.Count() != 3 || p.NextCursor == "" {
		t.Fatalf("count %d next %q", p.Count(), p.NextCursor)
	}
	next := mustParse(t, "limit=3&cursor="+p.NextCursor, testProjects)
	if next.after == nil || *next.after[0] != "0190a1b2-c3d4-7e5f-8a9b-000000000002" {
		t.Fatalf("the cursor must point after the last row kept, got %v", next.after)
	}
	b, _ := json.Marshal(p)
	if want := `{"data":[{"n":0},{"n":1},{"n":2}],"count":3,"nextCursor":"` + p.NextCursor + `"}`; string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}

	last, err := q.ReadPage(rowsOf(3, true))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(last)
	if want := `{"data":[{"n":0},{"n":1},{"n":2}],"count":3,"nextCursor":null}`; string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}
