package query

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"testing"

	"scaleapi/shared/fault"
)

// fuzzSorts are the sorts FuzzCursor pages by: every key type, nullable and not, both
// directions, one and several terms, a UUID and a serial id.
var fuzzSorts = []struct {
	s    *Schema
	sort string
}{
	{testItems, ""},
	{testItems, "sort=createdAt,ASC"},
	{testItems, "sort=doneAt,DESC&sort=score,ASC"},
	{testItems, "sort=flag,ASC&sort=rank,DESC"},
	{testItems, "sort=name,DESC"},
	{testItems, "sort=weight,DESC&sort=price,ASC"},
	{testItems, "sort=due,ASC&sort=ref,DESC&sort=status,ASC"},
	{testSerials, "sort=price,DESC&sort=weight,ASC"},
	{testSerials, ""},
	{testTasks, "sort=dueDate,DESC&sort=priority,ASC"},
}

// FuzzCursor checks the cursor codec from both ends, for each sort of fuzzSorts:
//
//   - decoding an arbitrary cursor never panics and fails only with a 400; what it accepts has
//     one value per sort term, NULL only for a nullable field, each canonical for its type, and
//     the values encode to a cursor that decodes to them again;
//   - a cursor made from an arbitrary sort key (what ReadPage hands out after a row the
//     database rendered) is accepted back by ParseRequest with the same sort, and the keyset
//     condition binds exactly its values; it is refused under any other sort, so a client can't
//     page one list with another's cursor.
//
// Run it with: go test ./shared/query -run '^$' -fuzz FuzzCursor
func FuzzCursor(f *testing.F) {
	f.Add(uint8(1), "", `["2024-01-02T03:04:05+01:00","`+id1+`"]`)
	f.Add(uint8(2), "not a cursor", `[null,2,"`+id1+`"]`)
	f.Add(uint8(3), "eyJmIjoiIiwiayI6W119", `[true,null,"`+id1+`"]`)
	f.Add(uint8(4), "====", `["it's","`+id1+`"]`)
	f.Add(uint8(5), "", `["NaN",12.50,"`+id1+`"]`)
	f.Add(uint8(7), "", `[-3.25,null,9007199254740993]`)
	f.Add(uint8(8), "", `[42]`)
	f.Add(uint8(9), "", `["infinity","urgent","`+id1+`"]`)
	f.Add(uint8(6), "", `["2024-05-06","`+id2+`","open","`+id1+`"]`)
	f.Add(uint8(0), "", `["a\u0000"]`)
	f.Fuzz(func(t *testing.T, which uint8, raw, key string) {
		c := fuzzSorts[int(which)%len(fuzzSorts)]
		q, err := parse(c.sort+"&cursor=", c.s)
		if err != nil {
			t.Fatal(err)
		}
		checkDecodeCursor(t, q, raw)

		cur, err := q.encodeCursor([]byte(key))
		if err != nil {
			return // not a key the database renders for this sort
		}
		next, err := parse(c.sort+"&cursor="+url.QueryEscape(cur), c.s)
		if err != nil {
			t.Fatalf("sort %q: the cursor made from %s is refused: %v", c.sort, key, err)
		}
		var args Args
		if next.After("t", &args) == "" {
			t.Fatalf("sort %q: the cursor made from %s has no keyset condition", c.sort, key)
		}
		var want Args
		for _, v := range next.after {
			if v != nil {
				want = append(want, *v)
			}
		}
		if !reflect.DeepEqual(distinct(args), distinct(want)) {
			t.Fatalf("sort %q: key %s binds %v, want %v", c.sort, key, args, want)
		}
		for _, o := range fuzzSorts {
			if o.s == c.s && o.sort == c.sort {
				continue
			}
			other, err := parse(o.sort+"&cursor=", o.s)
			if err != nil {
				t.Fatal(err)
			}
			if other.fingerprint() == q.fingerprint() {
				continue // the same sort spelled differently
			}
			if _, err := other.decodeCursor(cur); err == nil {
				t.Fatalf("a cursor of %q (%s) is accepted by %q", c.sort, key, o.sort)
			}
		}
	})
}

// checkDecodeCursor checks FuzzCursor's decoding properties for raw under q's sort.
func checkDecodeCursor(t *testing.T, q *Query, raw string) {
	vals, err := q.decodeCursor(raw)
	if err != nil {
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Code != fault.BadRequest {
			t.Fatalf("decodeCursor(%q): %v is not a 400", raw, err)
		}
		return
	}
	if len(vals) != len(q.sort) {
		t.Fatalf("decodeCursor(%q): %d values for %d sort terms", raw, len(vals), len(q.sort))
	}
	key := make([]any, len(vals))
	for i, v := range vals {
		f := q.sort[i].field
		if v == nil {
			if !f.Nullable {
				t.Fatalf("decodeCursor(%q): NULL for %s, which is not nullable", raw, f.Name)
			}
			continue
		}
		if c, want := keyValue(f.Type, *v); want != "" || c != *v {
			t.Fatalf("decodeCursor(%q): %s = %q is not canonical (%q, %s)", raw, f.Name, *v, c, want)
		}
		key[i] = *v
	}
	b, err := json.Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	again, err := q.encodeCursor(b)
	if err != nil {
		t.Fatalf("decodeCursor(%q) = %s, which encodeCursor refuses: %v", raw, b, err)
	}
	back, err := q.decodeCursor(again)
	if err != nil || !reflect.DeepEqual(back, vals) {
		t.Fatalf("decodeCursor(%q) = %s, re-encoded as %q, decodes to %v (%v)", raw, b, again, back, err)
	}
}

// distinct drops repeated arguments: the expanded keyset condition binds each value once, but
// two terms may hold the same value.
func distinct(args Args) []any {
	var out []any
	seen := map[any]bool{}
	for _, a := range args {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}
