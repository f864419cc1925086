package query

import (
	"encoding/base64"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// cursorFor makes the cursor a page would hand out after a row whose sort key rendered as key.
func cursorFor(t *testing.T, q *Query, key string) string {
	t.Helper()
	c, err := q.encodeCursor([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cursorCase is the keyset condition the page after a row whose sort key rendered as key
// must have.
type cursorCase struct {
	name, sort, key string
	sql             string
	args            []any
}

func checkAfter(t *testing.T, s *Schema, cases []cursorCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			first := mustParse(t, c.sort+"&cursor=", s)
			next := mustParse(t, c.sort+"&cursor="+cursorFor(t, first, c.key), s)
			var args Args
			if got := next.After("t", &args); got != c.sql {
				t.Errorf("sql\n got %s\nwant %s", got, c.sql)
			}
			if !reflect.DeepEqual([]any(args), c.args) {
				t.Errorf("args %#v, want %#v", args, c.args)
			}
		})
	}
}

func TestCursorAfter(t *testing.T) {
	checkAfter(t, testTasks, []cursorCase{
		{"DefaultSort", "", `["` + id1 + `"]`, "t.id > $1::uuid", []any{id1}},
		{"RowComparisonAsc", "sort=createdAt,ASC", `["2024-01-02T03:04:05.5+01:00","` + id1 + `"]`,
			"(t.created_at, t.id) > ($1::timestamptz, $2::uuid)", []any{"2024-01-02T02:04:05.5Z", id1}},
		{"RowComparisonDesc", "sort=priority,DESC&sort=version,DESC", `["high",3,"` + id1 + `"]`,
			"(t.priority COLLATE " + icu + ", t.version, t.id) < ($1::text, $2::bigint, $3::uuid)", []any{"high", "3", id1}},
		{"MixedDirections", "sort=priority,ASC&sort=version,DESC", `["high",3,"` + id1 + `"]`,
			"(t.priority COLLATE " + icu + " > $1::text OR (t.priority COLLATE " + icu + " = $1::text AND (t.version < $2::bigint OR (t.version = $2::bigint AND t.id < $3::uuid))))",
			[]any{"high", "3", id1}},
		{"NullableAscValue", "sort=dueDate,ASC", `["2024-05-06","` + id1 + `"]`,
			"(t.due_date > $1::date OR t.due_date IS NULL OR (t.due_date = $1::date AND t.id > $2::uuid))", []any{"2024-05-06", id1}},
		{"NullableAscNull", "sort=dueDate,ASC", `[null,"` + id1 + `"]`,
			"(t.due_date IS NULL AND t.id > $1::uuid)", []any{id1}},
		{"NullableDescValue", "sort=dueDate,DESC", `["2024-05-06","` + id1 + `"]`,
			"(t.due_date < $1::date OR (t.due_date = $1::date AND t.id < $2::uuid))", []any{"2024-05-06", id1}},
		{"NullableDescNull", "sort=dueDate,DESC", `[null,"` + id1 + `"]`,
			"(t.due_date IS NOT NULL OR (t.due_date IS NULL AND t.id < $1::uuid))", []any{id1}},
	})
}

// TestCursorSerialKey covers an Int id and the sort keys of floats and numerics, including the
// values a column holds but no condition accepts.
func TestCursorSerialKey(t *testing.T) {
	long := strings.Repeat("9", 150) + ".5"
	checkAfter(t, testSerials, []cursorCase{
		{"IntID", "", `[9007199254740993]`, "t.id > $1::bigint", []any{"9007199254740993"}},
		{"IntIDDesc", "sort=id,DESC", `[42]`, "t.id < $1::bigint", []any{"42"}},
		{"Numeric", "sort=price,DESC", `[12.50, 7]`, "(t.price, t.id) < ($1::numeric, $2::bigint)", []any{"12.50", "7"}},
		{"NumericLong", "sort=price", `[` + long + `, 7]`, "(t.price, t.id) > ($1::numeric, $2::bigint)", []any{long, "7"}},
		{"NumericNaN", "sort=price", `["NaN", 7]`, "(t.price, t.id) > ($1::numeric, $2::bigint)", []any{"NaN", "7"}},
		{"Float", "sort=weight", `[1e+20, 3]`,
			"(t.weight > $1::float8 OR t.weight IS NULL OR (t.weight = $1::float8 AND t.id > $2::bigint))", []any{"1e+20", "3"}},
		{"FloatShortestExact", "sort=weight,DESC", `[0.30000000000000004, 3]`,
			"(t.weight < $1::float8 OR (t.weight = $1::float8 AND t.id < $2::bigint))", []any{"0.30000000000000004", "3"}},
		{"FloatInfinity", "sort=weight", `["-Infinity", 3]`,
			"(t.weight > $1::float8 OR t.weight IS NULL OR (t.weight = $1::float8 AND t.id > $2::bigint))", []any{"-Infinity", "3"}},
		{"FloatNull", "sort=weight,DESC", `[null, 3]`, "(t.weight IS NOT NULL OR (t.weight IS NULL AND t.id < $1::bigint))", []any{"3"}},
	})
	first := mustParse(t, "sort=weight&cursor=", testSerials)
	payload := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, k := range []string{`["1",  "x"]`, `["nan", "1"]`, `["1", "1.5"]`, `[null, null]`} {
		raw := payload(`{"f":"` + first.fingerprint() + `","k":` + k + `}`)
		if _, err := parse("sort=weight&cursor="+raw, testSerials); err == nil || !strings.Contains(err.Error(), "not a cursor") {
			t.Errorf("cursor of %s: err = %v", k, err)
		}
	}
}

func TestCursorRefused(t *testing.T) {
	first := mustParse(t, "sort=createdAt,ASC&cursor=", testTasks)
	good := cursorFor(t, first, `["2024-01-02T03:04:05Z","`+id1+`"]`)
	payload := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	fp := first.fingerprint()
	cases := []struct{ name, query, want string }{
		{"OtherSort", "sort=createdAt,DESC&cursor=" + good, "made for another sort"},
		{"NoSort", "cursor=" + good, "made for another sort"},
		{"OtherResource", "sort=createdAt,ASC&cursor=" + good, "made for another sort"}, // parsed against projects below
		{"NotBase64", "sort=createdAt,ASC&cursor=***", "not a cursor"},
		{"NotJSON", "sort=createdAt,ASC&cursor=" + payload("nope"), "not a cursor"},
		{"UnknownKey", "sort=createdAt,ASC&cursor=" + payload(`{"f":"`+fp+`","k":["2024-01-02T03:04:05Z","`+id1+`"],"x":1}`), "not a cursor"},
		{"WrongLength", "sort=createdAt,ASC&cursor=" + payload(`{"f":"`+fp+`","k":["`+id1+`"]}`), "not a cursor"},
		{"NullInNotNull", "sort=createdAt,ASC&cursor=" + payload(`{"f":"`+fp+`","k":[null,"`+id1+`"]}`), "not a cursor"},
		{"BadValue", "sort=createdAt,ASC&cursor=" + payload(`{"f":"`+fp+`","k":["x' OR 1=1","`+id1+`"]}`), "not a cursor"},
		{"TooLong", "sort=createdAt,ASC&cursor=" + strings.Repeat("A", 5000), "not a cursor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := testTasks
			if c.name == "OtherResource" {
				s = testProjects
			}
			_, err := parse(c.query, s)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	if _, err := parse(url.Values{"sort": {"createdAt,ASC"}, "cursor": {good + "=="}}.Encode(), testTasks); err != nil {
		t.Fatalf("padded cursor: %v", err)
	}
}
